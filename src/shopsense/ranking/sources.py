"""The stack's retrieval models, scoring many shoppers' live histories at once.

Example::

    >>> from shopsense.features.interactions import InteractionData
    >>> from shopsense.models.popularity import Popularity
    >>> from shopsense.models.repeat import Repeat
    >>> data = InteractionData.from_sequences({"u1": ["a", "b"], "u2": ["b", "c"]})
    >>> sources = RetrievalSources({"popularity": Popularity().fit(data),
    ...                             "repeat": Repeat().fit(data)})
    >>> states = [ShopperState(n_leaves=1, n_brands=1)] * 2      # two fresh shoppers
    >>> scores = sources.scores_batch(states, n_items=3)
    >>> {name: s.shape for name, s in scores.items()}            # (b, n_items) each
    {'popularity': (2, 3), 'repeat': (2, 3)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from shopsense.models.base import Histories, Recommender, rows_matrix
from shopsense.ranking.items import FloatArray
from shopsense.ranking.shopper import ShopperState


@dataclass(frozen=True)
class RetrievalSources:
    """Named retrieval models; each one's item indices are a prefix of the stack's table
    (products added after a model was fitted get that model's mean score)."""

    models: Mapping[str, Recommender]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    @property
    def probabilistic(self) -> tuple[str, ...]:
        """The sources whose scores are next-engagement log-probabilities."""
        return tuple(n for n, m in self.models.items() if m.log_probabilities)

    def scores_batch(self, states: Sequence[ShopperState], n_items: int) -> dict[str, FloatArray]:
        """Every model's scores ``(b, n_items)`` for ``b`` shoppers at once."""
        out: dict[str, FloatArray] = {}
        batches: dict[int, Histories] = {}  # one per catalog size (usually one for all)
        for name, model in self.models.items():
            size = len(model.items_)
            if size not in batches:
                batches[size] = histories_of(states, size)
            scores = model.score(batches[size])
            if size < n_items:
                # Products newer than the model: the model neither likes nor dislikes them
                # (its mean score), so the sources that can score them (the item tower) and
                # exploration decide.
                finite = np.where(np.isfinite(scores), scores, np.nan)
                mean = np.nan_to_num(np.nanmean(finite, axis=1, keepdims=True)).astype(np.float32)
                pad = np.repeat(mean, n_items - size, axis=1)
                scores = np.hstack([scores, pad])
            out[name] = scores[:, :n_items]
        return out


def histories_of(states: Sequence[ShopperState], n_items: int) -> Histories:
    """The shoppers' current histories as one :class:`Histories` batch (unknown users);
    items beyond ``n_items`` (newer than a model) are left out."""
    items = [np.asarray(s.items, np.int64) for s in states]
    weights = [np.asarray(s.weights, np.float32) for s in states]
    known = [i < n_items for i in items]
    items = [i[k] for i, k in zip(items, known, strict=True)]
    weights = [w[k] for w, k in zip(weights, known, strict=True)]
    matrix = rows_matrix(items, weights, n_items)
    sequences = []
    for sequence in items:
        keep = np.ones(sequence.size, dtype=bool)
        keep[1:] = sequence[1:] != sequence[:-1]
        sequences.append(sequence[keep])
    events = list(zip(items, weights, strict=True))
    return Histories(np.full(len(states), -1, np.int64), matrix, sequences, True, events)
