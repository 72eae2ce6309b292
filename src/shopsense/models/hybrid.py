"""Hybrid: a weighted blend of other recommenders' scores.

Each component's scores are normalised per shopper (z-score over the catalog, or
reciprocal-rank), then summed with ``weights``. Weights are hyper-parameters; choose them on
validation data with :func:`shopsense.evaluation.tuning.tune_weights`.

Example::

    >>> model = Hybrid(components={"transition": {}, "sasrec": {"epochs": 50}},
    ...                weights={"transition": 0.3, "sasrec": 1.0})          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, Recommender


def normalise(scores: FloatArray, how: str) -> FloatArray:
    """Per-row normalisation of ``(b, n_items)`` scores; -inf stays -inf."""
    out = np.array(scores, dtype=np.float32, copy=True)
    finite = np.isfinite(out)
    if how == "zscore":
        masked = np.where(finite, out, np.nan)
        mean = np.nanmean(masked, axis=1, keepdims=True)
        std = np.nanstd(masked, axis=1, keepdims=True)
        std[~np.isfinite(std) | (std == 0)] = 1.0
        mean[~np.isfinite(mean)] = 0.0
        out = (out - mean) / std
    elif how == "rank":
        order = np.argsort(-np.where(finite, out, -np.inf), axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(out.shape[1])[None, :], axis=1)
        out = 1.0 / (60.0 + ranks.astype(np.float32))
    else:
        raise ModelError(f"normalisation must be 'zscore' or 'rank', got {how!r}")
    out[~finite] = -np.inf
    return out


@dataclasses.dataclass(eq=False)
class Hybrid(Recommender):
    """Blend of registered models: ``components`` maps model name -> its parameters."""

    name: ClassVar[str] = "hybrid"

    components: dict[str, dict[str, Any]] = dataclasses.field(
        default_factory=lambda: {"transition": {}, "item_knn": {}}
    )
    #: Weight per component name; missing names weigh 1.
    weights: dict[str, float] = dataclasses.field(default_factory=dict)
    normalisation: str = "zscore"

    models_: dict[str, Recommender] = dataclasses.field(init=False, repr=False)

    def _build(self) -> dict[str, Recommender]:
        from shopsense.models import MODELS

        built = {}
        for name, params in self.components.items():
            if name not in MODELS or name == self.name:
                raise ModelError(f"unknown hybrid component {name!r}")
            built[name] = MODELS[name](**params)
        return built

    def _fit(self, data: InteractionData) -> None:
        if not self.components:
            raise ModelError("a hybrid needs at least one component")
        self.models_ = self._build()
        for model in self.models_.values():
            model.fit(data)

    def _score(self, histories: Histories) -> FloatArray:
        total: FloatArray | None = None
        for name, model in self.models_.items():
            weight = float(self.weights.get(name, 1.0))
            if weight == 0.0:
                continue
            part = weight * normalise(model.score(histories), self.normalisation)
            total = part if total is None else total + part
        if total is None:
            raise ModelError("every hybrid weight is 0")
        return total

    def _item_scores(self, item: int) -> FloatArray:
        parts = []
        for model in self.models_.values():
            try:
                parts.append(normalise(model._item_scores(item)[None, :], "zscore")[0])
            except ModelError:
                continue
        if not parts:
            raise ModelError("no hybrid component computes item similarity")
        combined: FloatArray = np.sum(parts, axis=0)
        return combined

    def _save_extra(self, directory: Path, training_log: bool = True) -> None:
        for name, model in self.models_.items():
            model.save(directory / "components" / name, training_log)

    def _load_extra(self, directory: Path) -> None:
        from shopsense.models import MODELS

        self.models_ = {
            name: MODELS[name].load(directory / "components" / name) for name in self.components
        }
