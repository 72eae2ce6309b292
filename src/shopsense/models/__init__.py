"""Recommenders, one file each, all following :mod:`shopsense.models.base`.

Example::

    >>> from shopsense.models import MODELS, load_model
    >>> sorted(MODELS)
    ['als', 'popularity']
"""

from __future__ import annotations

import json
from pathlib import Path

from shopsense.errors import ModelError
from shopsense.models.als import ALS
from shopsense.models.base import Recommender
from shopsense.models.popularity import Popularity

MODELS: dict[str, type[Recommender]] = {"popularity": Popularity, "als": ALS}

__all__ = ["ALS", "MODELS", "Popularity", "Recommender", "load_model"]


def load_model(directory: Path) -> Recommender:
    """Load whatever model ``directory`` holds."""
    try:
        name = json.loads((directory / "model.json").read_text())["model"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"no readable model in {directory}: {exc}") from exc
    if name not in MODELS:
        raise ModelError(f"{directory} holds an unknown model {name!r}")
    return MODELS[name].load(directory)
