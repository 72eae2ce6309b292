"""Offline evaluation: full ranking over all items, the user's training items excluded.

Example::

    >>> split = leave_last_out(data)                                     # doctest: +SKIP
    >>> evaluate(ALS(), split, stage="test")["NDCG@10"]                  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from shopsense.evaluation.metrics import single_target_metrics
from shopsense.evaluation.split import Split
from shopsense.models.base import Recommender


def target_ranks(
    model: Recommender,
    users: Sequence[str],
    targets: Sequence[str],
    seed: int = 0,
) -> npt.NDArray[np.int64]:
    """0-based rank of each user's target among all items the user has not trained on.

    Ties with the target are broken at random, so a model that scores many items equally
    (popularity's zeros) gets no credit for file order.
    """
    rng = np.random.default_rng(seed)
    seen = model.user_items_
    ranks = np.full(len(users), -1, dtype=np.int64)
    for i, (user_id, target_id) in enumerate(zip(users, targets, strict=True)):
        target = model.items_.get(target_id)
        if target is None:
            continue
        scores = model.scores(user_id).copy()
        user = model.users_.get(user_id)
        if user is not None:
            scores[seen.indices[seen.indptr[user] : seen.indptr[user + 1]]] = -np.inf
        value = scores[target]
        if not np.isfinite(value):
            continue
        greater = int(np.count_nonzero(scores > value))
        ties = int(np.count_nonzero(scores == value)) - 1
        ranks[i] = greater + (int(rng.integers(0, ties + 1)) if ties > 0 else 0)
    return ranks


def evaluate(
    model: Recommender,
    split: Split,
    stage: Literal["valid", "test"] = "test",
    ks: Sequence[int] = (5, 10, 20),
) -> dict[str, float]:
    """Fit on the stage's training data and score its held-out items."""
    data = split.train if stage == "valid" else split.train_full
    held_out = split.valid_items if stage == "valid" else split.test_items
    started = time.perf_counter()
    model.fit(data)
    train_seconds = time.perf_counter() - started
    users = np.flatnonzero(held_out >= 0)
    ranks = target_ranks(
        model,
        [data.users.id(int(u)) for u in users],
        [data.items.id(int(held_out[u])) for u in users],
    )
    metrics = single_target_metrics(ranks, ks)
    metrics["users"] = float(users.size)
    metrics["train_seconds"] = train_seconds
    return metrics
