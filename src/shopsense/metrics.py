"""Ranking metrics, one ranked list at a time, plus the single-target fast path.

All ``@k`` metrics look at the first ``k`` entries of ``ranked``; ``relevant`` maps item
ids to gains (binary relevance: gain 1).

Single-target protocols (one held-out item per shopper) rank the target with
:func:`target_ranks`, the one place ties are broken (at random), then turn ranks into
metrics with :func:`single_target_metrics` or the per-row ``*_of_ranks`` functions:
offline evaluation, weight tuning, the stack's model choice and SASRec's early stopping
all go through it.

Example::

    >>> ndcg_at_k(["a", "b", "c"], {"b": 1.0}, k=3)   # 1 / log2(3)
    0.6309297535714575
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

T = TypeVar("T")
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def hit_at_k(ranked: Sequence[T], relevant: Mapping[T, float], k: int) -> float:
    """1.0 if any relevant item is in the top ``k``."""
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[T], relevant: Mapping[T, float], k: int) -> float:
    """Share of the relevant items found in the top ``k``."""
    positive = [item for item, gain in relevant.items() if gain > 0]
    if not positive:
        return 0.0
    found = sum(1 for item in ranked[:k] if relevant.get(item, 0.0) > 0)
    return found / len(positive)


def dcg_at_k(gains: Sequence[float], k: int) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at_k(ranked: Sequence[T], relevant: Mapping[T, float], k: int) -> float:
    """Normalised DCG with linear gains (graded relevance allowed)."""
    ideal = dcg_at_k(sorted(relevant.values(), reverse=True), k)
    if ideal <= 0:
        return 0.0
    return dcg_at_k([relevant.get(item, 0.0) for item in ranked], k) / ideal


def reciprocal_rank(
    ranked: Sequence[T], relevant: Mapping[T, float], k: int | None = None
) -> float:
    """1 / position of the first relevant item (0 when none in the top ``k``)."""
    for i, item in enumerate(ranked[:k] if k else ranked):
        if relevant.get(item, 0.0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def average_precision(ranked: Sequence[T], relevant: Mapping[T, float], k: int) -> float:
    """AP@k: mean precision at each relevant hit, over min(#relevant, k)."""
    positive = sum(1 for gain in relevant.values() if gain > 0)
    if positive == 0:
        return 0.0
    hits, total = 0, 0.0
    for i, item in enumerate(ranked[:k]):
        if relevant.get(item, 0.0) > 0:
            hits += 1
            total += hits / (i + 1)
    return total / min(positive, k)


def target_ranks(
    scores: npt.ArrayLike,
    targets: npt.ArrayLike,
    rng: np.random.Generator,
    excluded: sp.spmatrix | sp.sparray | npt.ArrayLike | None = None,
) -> IntArray:
    """0-based rank of each row's target item among the row's items, ties broken at random.

    ``scores``: ``(b, n_items)``; ``targets``: ``(b,)`` item indices; ``excluded``: an
    optional ``(b, n_items)`` mask, CSR or dense, nonzero where an item may not be
    recommended (the shopper's history, in the usual protocol).

    The rank is the number of items scoring strictly above the target plus a uniform draw
    from ``0..t``, ``t`` being the number of other items with exactly the target's score:
    a model that scores everything alike ranks the target at ``(n_items - 1) / 2`` on
    average, not first. Excluded items never count. The target is a miss (``-1``, never a
    hit at any ``k``) when it is excluded itself or scores -inf or NaN, as an item the
    list could not show; rows scored with the history set to -inf beforehand get the
    same ranks as passing that history here.

    Exactly one draw per row is taken from ``rng``, ties or not, so one seed gives the same
    draws to every score matrix of the same rows: settings compared on one seed differ by
    their scores, not by luck.

    >>> scores = np.array([[0.9, 0.5, 0.5, 0.5, 0.1], [0.2, 0.7, 0.7, 0.1, 0.3]])
    >>> history = [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0]]  # row 1's tie is in its history
    >>> target_ranks(scores, [0, 1], np.random.default_rng(0), excluded=history)
    array([0, 0])
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets, np.int64)
    rows = np.arange(targets.size)
    target_scores = scores[rows, targets]
    greater = (scores > target_scores[:, None]).sum(axis=1)
    ties = (scores == target_scores[:, None]).sum(axis=1) - 1
    miss = ~(target_scores > -np.inf)  # -inf or NaN
    if excluded is not None:
        mask = sp.csr_matrix(excluded, dtype=bool, copy=True)
        mask.sum_duplicates()
        mask.eliminate_zeros()
        if mask.shape != scores.shape:
            raise ValueError(
                f"excluded mask has shape {mask.shape}, scores {scores.shape}; pass one row "
                "per scored shopper and one column per item"
            )
        at = np.repeat(rows, np.diff(mask.indptr))
        items = mask.indices
        excluded_scores = scores[at, items]
        itself = items == targets[at]
        greater -= np.bincount(at[excluded_scores > target_scores[at]], minlength=rows.size)
        tied = (excluded_scores == target_scores[at]) & ~itself
        ties -= np.bincount(at[tied], minlength=rows.size)
        miss[at[itself]] = True
    draws = np.floor(rng.random(rows.size) * (ties + 1)).astype(np.int64)
    ranks: IntArray = (greater + draws).astype(np.int64)
    ranks[miss] = -1
    return ranks


def hit_of_ranks(ranks: npt.ArrayLike, k: int) -> FloatArray:
    """Per row, 1.0 when the 0-based ``ranks`` (``-1``: a miss) fall in the top ``k``."""
    ranks = np.asarray(ranks, np.int64)
    return ((ranks >= 0) & (ranks < k)).astype(np.float64)


def ndcg_of_ranks(ranks: npt.ArrayLike, k: int) -> FloatArray:
    """Per row, NDCG@k of one relevant item at 0-based ``ranks``: ``1 / log2(rank + 2)``
    inside the top ``k``, else 0 (the ideal DCG of one item is 1)."""
    ranks = np.asarray(ranks, np.int64)
    inside = (ranks >= 0) & (ranks < k)
    gain = np.zeros(ranks.shape, np.float64)
    gain[inside] = 1.0 / np.log2(ranks[inside] + 2.0)
    return gain


def reciprocal_rank_of_ranks(ranks: npt.ArrayLike, k: int) -> FloatArray:
    """Per row, ``1 / (rank + 1)`` inside the top ``k``, else 0 (MRR@k once averaged)."""
    ranks = np.asarray(ranks, np.int64)
    inside = (ranks >= 0) & (ranks < k)
    rr = np.zeros(ranks.shape, np.float64)
    rr[inside] = 1.0 / (ranks[inside] + 1.0)
    return rr


def single_target_metrics(
    ranks: npt.ArrayLike, ks: Sequence[int] = (5, 10, 20)
) -> dict[str, float]:
    """HR / NDCG / MRR @k averaged over users, from each user's 0-based target rank.

    ``ranks[u]`` is where user ``u``'s one held-out item landed in the full ranking
    (:func:`target_ranks`; ``-1`` or anything ``>= k`` counts as a miss), as in
    leave-one-out protocols. No users: an empty dict.

    >>> single_target_metrics([0, 3, -1], ks=(5,))["HR@5"]
    0.6666666666666666
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    out: dict[str, float] = {}
    if ranks.size == 0:
        return out
    for k in ks:
        out[f"HR@{k}"] = float(hit_of_ranks(ranks, k).mean())
        out[f"NDCG@{k}"] = float(ndcg_of_ranks(ranks, k).mean())
        out[f"MRR@{k}"] = float(reciprocal_rank_of_ranks(ranks, k).mean())
    return out


def catalog_coverage(recommended: Sequence[Sequence[T]], n_items: int) -> float:
    """Share of the catalog that appears in at least one list."""
    if n_items <= 0:
        return 0.0
    return len({item for items in recommended for item in items}) / n_items


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting half (Mann-Whitney U over ``(n,)`` labels and scores); NaN when
    one class is missing.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    # 1-based ranks, tied scores sharing their average rank
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def log_loss(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> float:
    """Mean (weighted) binary cross-entropy of ``(n,)`` probabilities, clipped to [1e-7, 1 - 1e-7].

    >>> round(log_loss([1, 0], [0.8, 0.2]), 4)  # -ln 0.8
    0.2231
    """
    y = np.asarray(labels, np.float64)
    p = np.clip(np.asarray(probabilities, np.float64), 1e-7, 1 - 1e-7)
    w = np.ones(y.size) if weights is None else np.asarray(weights, np.float64)
    if y.size == 0:
        return float("nan")
    return float((w * -(y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / w.sum())


def reliability(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, bins: int = 10
) -> list[tuple[float, float, int]]:
    """The reliability curve: ``(mean predicted, observed rate, rows)`` per bin of equal
    size (quantiles of the predictions), for the bins that hold rows.

    >>> reliability([0, 1, 0, 1], [0.25, 0.25, 0.75, 0.75], bins=2)
    [(0.25, 0.5, 2), (0.75, 0.5, 2)]
    """
    y = np.asarray(labels, np.float64)
    p = np.asarray(probabilities, np.float64)
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if part.size:
            out.append((float(p[part].mean()), float(y[part].mean()), int(part.size)))
    return out


def expected_calibration_error(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, bins: int = 10
) -> float:
    """ECE: the row-weighted mean gap between predicted and observed rates over the
    :func:`reliability` bins (equal-mass bins, as rare positives need).

    >>> expected_calibration_error([0, 1, 0, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    0.325
    """
    curve = reliability(labels, probabilities, bins)
    total = sum(n for _, _, n in curve)
    if total == 0:
        return float("nan")
    return float(sum(n * abs(pred - seen) for pred, seen, n in curve) / total)
