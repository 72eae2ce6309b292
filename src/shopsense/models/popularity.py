"""Popularity: how many shoppers interacted with each item, optionally time-decayed (trending).

Counted on the training data only (counting held-out events inflates offline results).

Example::

    >>> trending = Popularity(half_life_days=7.0)   # recent interactions count more
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, Recommender
from shopsense.store.base import MICROS_PER_DAY

#: The half-life of the serving bundle's "trending" (whichever engine trains it).
TRENDING_HALF_LIFE_DAYS = 7.0


@dataclasses.dataclass(eq=False)
class Popularity(Recommender):
    """Scores each item by its number of distinct shoppers (decayed by age if asked)."""

    name: ClassVar[str] = "popularity"

    #: Half-life of an interaction's weight in days; ``None`` counts all equally.
    half_life_days: float | None = None
    #: Reference time for the decay (epoch micros); ``None`` = the latest interaction.
    now_micros: int | None = None

    counts_: FloatArray = dataclasses.field(init=False, repr=False)

    def _fit(self, data: InteractionData) -> None:
        if self.half_life_days is None:
            self.counts_ = self.item_popularity_.copy()
            return
        seen = data.last_seen.tocoo()
        now = self.now_micros if self.now_micros is not None else int(seen.data.max(initial=0))
        age_days = np.maximum(now - seen.data, 0) / MICROS_PER_DAY
        weight = np.power(0.5, age_days / self.half_life_days)
        self.counts_ = np.bincount(seen.col, weights=weight, minlength=data.n_items).astype(
            np.float32
        )

    def _score(self, histories: Histories) -> FloatArray:
        return np.broadcast_to(self.counts_, (len(histories), self.counts_.size)).copy()

    def _cold_scores(self) -> FloatArray:
        return self.counts_

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {"counts_": self.counts_}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self.counts_ = arrays["counts_"]
