"""Re-consumption: the shopper's own items again, the most recent and most frequent first.

Many shoppers come back for what they already looked at or bought (consumables, comparison
shopping, a product they hesitated over). This model scores each item of the shopper's
history by its recency-decayed frequency::

    score(j) = sum over the history steps k back (0 = the latest) where j was engaged: decay ** k

Items outside the history get a vanishing popularity score, so lists are always full. It is
one of the retrieval models the default stack may choose on validation data (and blend with
the others); on shops where nobody repeats, validation gives it no weight.

Example::

    >>> data = InteractionData.from_sequences({"U0001": ["P1", "P2"], "U0002": ["P2", "P3"]})
    >>> model = Repeat(decay=0.8).fit(data)
    >>> items, scores = model.recommend("U0001", n=3, exclude_seen=False,
    ...                                 history=["P1", "P2", "P1"])
    >>> items.tolist(), round(float(scores[0]), 2)     # P1: 0.8 ** 0 + 0.8 ** 2
    (['P1', 'P2', 'P3'], 1.64)
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, Recommender


@dataclasses.dataclass(eq=False)
class Repeat(Recommender):
    """Recency-decayed frequency of the shopper's own items (see the module docstring)."""

    name: ClassVar[str] = "repeat"

    #: Weight of an engagement ``k`` steps back: ``decay ** k`` (1 = plain frequency).
    decay: float = 0.8

    tie_break_: FloatArray = dataclasses.field(init=False, repr=False)

    def _fit(self, data: InteractionData) -> None:
        if not 0.0 < self.decay <= 1.0:
            raise ModelError(f"Repeat decay must be in (0, 1], got {self.decay}")
        self._derive()

    def _derive(self) -> None:
        top = float(self.item_popularity_.max(initial=0.0))
        self.tie_break_ = (1e-6 * self.item_popularity_ / max(top, 1.0)).astype(np.float32)

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self._derive()

    def _score(self, histories: Histories) -> FloatArray:
        scores = np.broadcast_to(self.tie_break_, (len(histories), self.tie_break_.size)).copy()
        for row, sequence in enumerate(histories.sequences):
            if sequence.size:
                back = np.power(self.decay, np.arange(sequence.size)[::-1], dtype=np.float64)
                np.add.at(scores[row], sequence, back.astype(np.float32))
        return scores

    def _item_scores(self, item: int) -> FloatArray:
        scores = self.tie_break_.copy()
        scores[item] += 1.0
        return scores
