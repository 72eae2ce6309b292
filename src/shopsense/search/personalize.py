"""Personalized re-ranking: blend search relevance with the shopper's affinity.

The affinity of a shopper for a product comes from any fitted recommender (ALS factors,
SASRec over the current session, ...) through its ``scores(user_id, history=...)``; a
fresh session passed as ``history`` changes the next search at once. Only the top
``depth`` results by relevance are reordered, so personalization never pulls an
irrelevant product up from the tail.

Example::

    >>> affinity = ModelAffinity(als)                                  # doctest: +SKIP
    >>> scores = affinity.affinity("U0042", None, ["P1", "P2"])        # doctest: +SKIP
    >>> blend(relevance, scores, weight=0.5, depth=50)                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from shopsense.models.base import Recommender

Scores = npt.NDArray[np.float32]


class Affinity(Protocol):
    """Anything that scores products for a shopper; ``None`` when it knows nothing of them."""

    def affinity(
        self, user_id: str | None, history: Sequence[str] | None, item_ids: Sequence[str]
    ) -> Scores | None: ...


class ModelAffinity:
    """Affinity from a fitted recommender's scores (unknown products get ``NaN``)."""

    def __init__(self, model: Recommender) -> None:
        self.model = model

    def affinity(
        self, user_id: str | None, history: Sequence[str] | None, item_ids: Sequence[str]
    ) -> Scores | None:
        model = self.model
        known_user = user_id is not None and model.users_.get(user_id) is not None
        if not known_user and not history:
            return None
        scores = model.scores(user_id or "", history=list(history) if history else None)
        index = model.items_.indices(list(item_ids))
        result = np.full(len(item_ids), np.nan, np.float32)
        found = index >= 0
        result[found] = scores[index[found]]
        return result


def _zscore(values: npt.NDArray[np.floating]) -> Scores:
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(len(values), np.float32)
    mean = float(values[finite].mean())
    std = float(values[finite].std())
    filled = np.where(finite, values, mean)
    return ((filled - mean) / (std if std > 1e-9 else 1.0)).astype(np.float32)


def affinity_parts(relevance: Scores, affinity: Scores, depth: int) -> Scores:
    """What :func:`blend` adds to each result before its weight, ``z(affinity)`` among the
    top ``depth`` by ``relevance`` (``NaN`` below them: they are not re-ordered)."""
    order = np.argsort(-relevance, kind="stable")
    head = order[: min(depth, len(relevance))]
    parts = np.full(len(relevance), np.nan, np.float32)
    parts[head] = _zscore(affinity[head])
    return parts


def blend(relevance: Scores, affinity: Scores, weight: float, depth: int) -> Scores:
    """New scores (shape ``(n,)``): among the top ``depth`` by ``relevance``,
    ``z(relevance) + weight * z(affinity)``; the rest stay below them in their old order."""
    n = len(relevance)
    order = np.argsort(-relevance, kind="stable")
    head = order[: min(depth, n)]
    result = np.empty(n, np.float32)
    mixed = _zscore(relevance[head]) + weight * _zscore(affinity[head])
    result[head] = mixed
    tail = order[len(head) :]
    if len(tail):
        floor = float(mixed.min()) - 1.0
        result[tail] = floor - np.arange(1, len(tail) + 1, dtype=np.float32)
    return result
