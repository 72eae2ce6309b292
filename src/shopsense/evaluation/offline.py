"""Offline evaluation: full ranking over all items, the input history's items excluded.

Example::

    >>> split = leave_one_out(data)                                      # doctest: +SKIP
    >>> evaluate(ALS(), split, stage="test")["NDCG@10"]                  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from shopsense import progress
from shopsense.evaluation.split import Split
from shopsense.features.interactions import InteractionData
from shopsense.metrics import (
    average_precision,
    hit_at_k,
    hit_of_ranks,
    ndcg_at_k,
    ndcg_of_ranks,
    recall_at_k,
    reciprocal_rank,
    reciprocal_rank_of_ranks,
    target_ranks,
)
from shopsense.models.base import Histories, Recommender

Stage = Literal["valid", "test"]


@dataclass
class RankingResult:
    """Per-user outcomes, kept so reports can plot distributions."""

    metrics: dict[str, float]
    top_items: npt.NDArray[np.int64] = field(repr=False)


def exclude_seen(
    scores: npt.NDArray[np.float32],
    histories: Histories,
    exclude: bool | npt.NDArray[np.bool_] = True,
) -> None:
    """Set the scores ``(b, n_items)`` of each shopper's history items to -inf, in place
    (``exclude``: all of them, none, or those where an ``(n_items,)`` mask is true)."""
    if exclude is False:
        return
    rows = np.repeat(np.arange(len(histories)), np.diff(histories.matrix.indptr))
    columns = histories.matrix.indices
    if exclude is not True:
        keep = np.asarray(exclude, bool)[columns]
        rows, columns = rows[keep], columns[keep]
    scores[rows, columns] = -np.inf


def rank_targets(
    model: Recommender,
    split: Split,
    stage: Stage = "test",
    ks: Sequence[int] = (5, 10, 20),
    batch_size: int = 256,
    seed: int = 0,
    exclude_history: bool | npt.NDArray[np.bool_] = True,
) -> RankingResult:
    """Score every user with targets at ``stage`` and compute the ranking metrics.

    ``exclude_history=False`` keeps the input history's items rankable, for shops where
    shoppers come back to what they had (a repeated item can then be a hit); an
    ``(n_items,)`` mask excludes only the history items where it is true.

    The model must already be fitted (on ``split.train``, or on ``split.train_full`` for
    the test stage); the input histories are the stage's (``train`` for validation,
    ``train_full`` for test), so a model fitted on other data folds them in as fresh.
    """
    inputs = split.train if stage == "valid" else split.train_full
    targets = split.valid_targets if stage == "valid" else split.test_targets
    users = split.users(stage)
    k_max = max(ks)
    rng = np.random.default_rng(seed)
    sums: dict[str, float] = {}
    top = np.full((users.size, k_max), -1, dtype=np.int64)
    batches = range(0, users.size, batch_size)
    for start in progress.track(batches, f"ranking {stage} targets", unit="batches"):
        batch = users[start : start + batch_size]
        histories = Histories.from_data(inputs, batch, fresh=inputs is not model.train_)
        scores = model.score(histories).astype(np.float32, copy=True)
        exclude_seen(scores, histories, exclude_history)
        # A catalog smaller than k_max: the whole catalog is the list (the rest stays -1).
        width = min(k_max, scores.shape[1])
        if width < scores.shape[1]:
            part = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(width), scores.shape)
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        top[start : start + batch.size, :width] = np.take_along_axis(part, order, axis=1)
        target_rows = targets[batch]
        single = np.diff(target_rows.indptr) == 1
        if single.all():
            # excluded history is at -inf already: never above the target, a target in it a miss
            ranks = target_ranks(scores, target_rows.indices, rng)
            for k in ks:
                # one relevant item: recall is the hit, average precision the reciprocal rank
                hits = float(hit_of_ranks(ranks, k).sum())
                reciprocal = float(reciprocal_rank_of_ranks(ranks, k).sum())
                _add(sums, f"HR@{k}", hits)
                _add(sums, f"Recall@{k}", hits)
                _add(sums, f"NDCG@{k}", float(ndcg_of_ranks(ranks, k).sum()))
                _add(sums, f"MRR@{k}", reciprocal)
                _add(sums, f"MAP@{k}", reciprocal)
            continue
        for i in range(batch.size):
            relevant = dict.fromkeys(target_rows[i].indices.tolist(), 1.0)
            ranked = top[start + i].tolist()
            for k in ks:
                _add(sums, f"HR@{k}", hit_at_k(ranked, relevant, k))
                _add(sums, f"Recall@{k}", recall_at_k(ranked, relevant, k))
                _add(sums, f"NDCG@{k}", ndcg_at_k(ranked, relevant, k))
                _add(sums, f"MRR@{k}", reciprocal_rank(ranked, relevant, k))
                _add(sums, f"MAP@{k}", average_precision(ranked, relevant, k))
    n = max(users.size, 1)
    metrics = {name: value / n for name, value in sorted(sums.items())}
    metrics.update(_beyond_accuracy(top, inputs.n_items, split.train, ks))
    metrics["users"] = float(users.size)
    return RankingResult(metrics, top)


def _add(sums: dict[str, float], key: str, value: float) -> None:
    sums[key] = sums.get(key, 0.0) + value


def _beyond_accuracy(
    top: npt.NDArray[np.int64], n_items: int, train: InteractionData, ks: Sequence[int]
) -> dict[str, float]:
    """Coverage, novelty and popularity bias of the recommended lists at each k.

    Novelty: mean self-information ``-log2 p(i)`` of recommended items (p = share of users).
    PopularityPercentile: mean popularity percentile of recommended items (1 = the most
    popular item, 0.5 = typical), a popularity-bias gauge.
    """
    users_per_item = np.asarray((train.matrix > 0).sum(axis=0)).ravel()
    p = (users_per_item + 1.0) / (max(train.n_users, 1) + 1.0)
    information = -np.log2(p)
    ranks = rankdata(users_per_item, method="average")
    percentile = (ranks - 1) / max(users_per_item.size - 1, 1)
    out: dict[str, float] = {}
    for k in ks:
        head = top[:, :k]
        valid = head >= 0
        chosen = head[valid]
        out[f"Coverage@{k}"] = float(np.unique(chosen).size / max(n_items, 1))
        out[f"Novelty@{k}"] = float(information[chosen].mean()) if chosen.size else 0.0
        out[f"PopularityPercentile@{k}"] = float(percentile[chosen].mean()) if chosen.size else 0.0
    return out


def evaluate(
    model: Recommender,
    split: Split,
    stage: Stage = "test",
    ks: Sequence[int] = (5, 10, 20),
    seed: int = 0,
    refit: bool = True,
    exclude_history: bool | npt.NDArray[np.bool_] = True,
) -> dict[str, float]:
    """Fit, then rank the held-out targets of ``stage``.

    Validation fits on ``split.train``. Test fits on ``split.train_full`` (training plus
    validation events, the usual "retrain with the chosen hyper-parameters" step) unless
    ``refit=False``, which keeps the ``split.train`` model and feeds it the validation
    step as a fresh input, as SASRec / S3-Rec's published code does.
    """
    started = time.perf_counter()
    model.fit(split.train_full if stage == "test" and refit else split.train)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = rank_targets(model, split, stage, ks, seed=seed, exclude_history=exclude_history)
    result.metrics["train_seconds"] = train_seconds
    result.metrics["eval_seconds"] = time.perf_counter() - started
    return result.metrics
