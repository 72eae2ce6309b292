"""Recommenders, one file each, all following :mod:`shopsense.models.base`.

Example::

    >>> from shopsense.models import MODELS, load_model
    >>> sorted(MODELS)[:5]
    ['als', 'bpr', 'ease', 'hybrid', 'item_knn']
    >>> len(MODELS)
    11
"""

from __future__ import annotations

import json
from pathlib import Path

from shopsense.errors import ModelError
from shopsense.models.als import ALS
from shopsense.models.base import Recommender
from shopsense.models.bpr import BPR
from shopsense.models.ease import EASE
from shopsense.models.hybrid import Hybrid
from shopsense.models.item_knn import ItemKNN
from shopsense.models.item_tower import ItemTower
from shopsense.models.mult_dae import MultDAE
from shopsense.models.popularity import Popularity
from shopsense.models.repeat import Repeat
from shopsense.models.sasrec import SASRec
from shopsense.models.transition import Transition

MODELS: dict[str, type[Recommender]] = {
    model.name: model
    for model in (
        Popularity,
        Repeat,
        ItemKNN,
        EASE,
        Transition,
        ALS,
        BPR,
        MultDAE,
        SASRec,
        Hybrid,
        ItemTower,
    )
}

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "MODELS",
    "Hybrid",
    "ItemKNN",
    "ItemTower",
    "MultDAE",
    "Popularity",
    "Recommender",
    "Repeat",
    "SASRec",
    "Transition",
    "load_model",
]


def load_model(directory: Path) -> Recommender:
    """Load whatever model ``directory`` holds."""
    try:
        name = json.loads((directory / "model.json").read_text())["model"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"no readable model in {directory}: {exc}") from exc
    if name not in MODELS:
        raise ModelError(f"{directory} holds an unknown model {name!r}")
    return MODELS[name].load(directory)
