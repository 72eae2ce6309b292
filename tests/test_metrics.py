"""Known-answer tests: every value below is computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shopsense.metrics import (
    average_precision,
    catalog_coverage,
    hit_at_k,
    hit_of_ranks,
    ndcg_at_k,
    ndcg_of_ranks,
    recall_at_k,
    reciprocal_rank,
    reciprocal_rank_of_ranks,
    single_target_metrics,
    target_ranks,
)
from shopsense.models.base import top_k

RANKED = ["a", "b", "c", "d", "e"]


def test_ndcg_binary_by_hand() -> None:
    # relevant b (rank 2) and d (rank 4): DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, {"b": 1, "d": 1}, 5) == pytest.approx(expected)
    assert ndcg_at_k(RANKED, {"b": 1, "d": 1}, 3) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_ndcg_graded_esci_gains_by_hand() -> None:
    gains = {"a": 0.1, "c": 1.0, "z": 0.01}
    dcg = 0.1 + 1.0 / math.log2(4)
    idcg = 1.0 + 0.1 / math.log2(3) + 0.01 / math.log2(4)
    assert ndcg_at_k(RANKED, gains, 10) == pytest.approx(dcg / idcg)


def test_other_metrics_by_hand() -> None:
    relevant = {"b": 1.0, "d": 1.0, "x": 1.0}
    assert hit_at_k(RANKED, relevant, 1) == 0.0
    assert hit_at_k(RANKED, relevant, 2) == 1.0
    assert recall_at_k(RANKED, relevant, 5) == pytest.approx(2 / 3)
    assert reciprocal_rank(RANKED, relevant) == pytest.approx(0.5)
    assert reciprocal_rank(RANKED, relevant, k=1) == 0.0
    # AP@5: hits at 2 and 4 -> (1/2 + 2/4) / min(3, 5)
    assert average_precision(RANKED, relevant, 5) == pytest.approx((0.5 + 0.5) / 3)
    assert ndcg_at_k(RANKED, {}, 5) == 0.0
    assert catalog_coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(0.3)


def test_single_target_metrics_by_hand() -> None:
    ranks = np.array([0, 3, 12, -1])
    m = single_target_metrics(ranks, ks=(5, 20))
    assert m["HR@5"] == pytest.approx(2 / 4)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / math.log2(5)) / 4)
    assert m["MRR@5"] == pytest.approx((1 + 1 / 4) / 4)
    assert m["HR@20"] == pytest.approx(3 / 4)
    assert m["NDCG@20"] == pytest.approx((1 + 1 / math.log2(5) + 1 / math.log2(14)) / 4)


@given(st.lists(st.floats(allow_nan=False, width=32), max_size=60), st.integers(0, 70))
def test_top_k_is_the_sorted_head(values: list[float], n: int) -> None:
    scores = np.array(values, dtype=np.float32)
    best = top_k(scores, n)
    finite = np.isfinite(scores)
    assert len(best) == min(n, int(finite.sum()))
    assert np.all(np.diff(scores[best]) <= 0)
    if len(best):
        rest = np.setdiff1d(np.flatnonzero(finite), best)
        assert rest.size == 0 or scores[rest].max() <= scores[best].min()


@given(st.lists(st.integers(-1, 50), min_size=1, max_size=50))
def test_metrics_are_bounded_and_monotone_in_k(ranks: list[int]) -> None:
    m = single_target_metrics(np.array(ranks), ks=(5, 10, 20))
    for k in (5, 10, 20):
        assert 0.0 <= m[f"NDCG@{k}"] <= m[f"HR@{k}"] <= 1.0
    assert m["HR@5"] <= m["HR@10"] <= m["HR@20"]


def test_roc_auc_by_hand_with_ties() -> None:
    from shopsense.metrics import roc_auc

    # positives 0.35, 0.8 against negatives 0.1, 0.4: pairs won 1 + 2 of 4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # positives 0.5, 0.9; negatives 0.5, 0.2, 0.5: (0.5 vs .5, .2, .5) = .5 + 1 + .5,
    # (0.9 beats all 3) = 3 -> 5 of 6 pairs
    assert roc_auc([1, 0, 0, 1, 0], [0.5, 0.5, 0.2, 0.9, 0.5]) == pytest.approx(5 / 6)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # one tie: half a pair
    assert roc_auc([1, 0], [0.9, 0.1]) == 1.0 and roc_auc([0, 1], [0.9, 0.1]) == 0.0
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))


# --- target_ranks: the one rank (and tie-break) behind every single-target figure ---------


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_target_rank_and_ndcg_by_hand() -> None:
    # target item 2 (0.4) has 0.9 and 0.7 above it: rank 2, NDCG = 1 / log2(4) = 0.5
    scores = np.array([[0.1, 0.9, 0.4, 0.7, 0.2]])
    ranks = target_ranks(scores, [2], rng())
    assert ranks.tolist() == [2]
    m = single_target_metrics(ranks, ks=(2, 3, 10))
    assert m["NDCG@10"] == pytest.approx(0.5)
    assert m["MRR@10"] == pytest.approx(1 / 3)
    assert m["HR@10"] == m["HR@3"] == 1.0
    assert m["HR@2"] == m["NDCG@2"] == m["MRR@2"] == 0.0  # rank 2 is the third place


def test_k_boundaries() -> None:
    ranks = np.array([0, 4, 5, -1])
    assert hit_of_ranks(ranks, 5).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert hit_of_ranks(ranks, 1).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert ndcg_of_ranks(ranks, 5) == pytest.approx([1.0, 1 / math.log2(6), 0.0, 0.0])
    assert ndcg_of_ranks(ranks, 6)[2] == pytest.approx(1 / math.log2(7))
    assert reciprocal_rank_of_ranks(ranks, 5) == pytest.approx([1.0, 0.2, 0.0, 0.0])
    assert ndcg_of_ranks(ranks, 0).tolist() == [0.0] * 4


def test_ties_are_broken_uniformly_at_random() -> None:
    """Regression (issue 14): validation and SASRec early stopping let the target win every
    tie, so a model scoring every item alike looked perfect; it ranks in the middle now."""
    n_items = 11
    flat = np.zeros((1, n_items), np.float32)
    ranks = np.concatenate([target_ranks(flat, [3], rng(seed)) for seed in range(4000)])
    assert set(ranks.tolist()) == set(range(n_items))  # every place is possible
    assert ranks.mean() == pytest.approx((n_items - 1) / 2, abs=0.15)
    # only the tied items share the draw: one item above, two tied with the target
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]] * 6000)
    ranks = target_ranks(scores, np.zeros(6000, np.int64), rng())
    assert set(ranks.tolist()) == {1, 2, 3}
    assert ranks.mean() == pytest.approx(2.0, abs=0.05)
    # NDCG@10 of a flat model over 20 items: the mean gain of a uniformly random place
    many = target_ranks(np.ones((20000, 20)), np.zeros(20000, np.int64), rng(1))
    expected = sum(1 / math.log2(r + 2) for r in range(10)) / 20
    assert single_target_metrics(many, ks=(10,))["NDCG@10"] == pytest.approx(expected, abs=0.01)


def test_one_seed_gives_the_same_draws() -> None:
    scores = np.zeros((50, 8))
    targets = np.arange(50) % 8
    first = target_ranks(scores, targets, rng(7))
    assert np.array_equal(first, target_ranks(scores, targets, rng(7)))
    # the draws do not depend on the scores: a row with no ties takes one draw all the same
    mixed = scores.copy()
    mixed[0] = np.arange(8)
    again = target_ranks(mixed, targets, rng(7))
    assert np.array_equal(again[1:], first[1:])


def test_the_history_is_excluded_and_a_target_in_it_is_a_miss() -> None:
    scores = np.array(
        [
            [0.9, 0.8, 0.3, 0.5],  # items 0 and 1 outrank the target 3 but are history
            [0.9, 0.8, 0.3, 0.5],  # the target 1 is in the history: a miss, as in evaluate()
            [0.2, 0.6, 0.6, 0.1],  # the tie with item 2 is in the history: rank 0, no draw
        ]
    )
    history = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]]))
    ranks = target_ranks(scores, [3, 1, 1], rng(), excluded=history)
    assert ranks.tolist() == [0, -1, 0]
    assert single_target_metrics(ranks, ks=(1,))["HR@1"] == pytest.approx(2 / 3)
    # the same as setting the history to -inf first (what rank_targets does)
    masked = np.where(history.toarray() > 0, -np.inf, scores)
    assert target_ranks(masked, [3, 1, 1], rng()).tolist() == [0, -1, 0]
    # a dense mask, and interaction counts rather than 0/1, mean the same
    counts = 3 * history.toarray()
    assert target_ranks(scores, [3, 1, 1], rng(), excluded=counts).tolist() == [0, -1, 0]


def test_empty_histories_and_no_rows() -> None:
    scores = np.array([[0.9, 0.8, 0.3, 0.5]])
    empty = sp.csr_matrix((1, 4), dtype=np.float32)
    assert target_ranks(scores, [3], rng(), excluded=empty).tolist() == [2]
    assert target_ranks(scores, [3], rng(), excluded=None).tolist() == [2]
    none = target_ranks(np.zeros((0, 4)), np.zeros(0, np.int64), rng(), sp.csr_matrix((0, 4)))
    assert none.shape == (0,)
    assert single_target_metrics(none) == {}


def test_an_unrankable_target_is_a_miss() -> None:
    scores = np.array([[-np.inf, 0.5, 0.2], [np.nan, 0.5, 0.2], [np.inf, 0.5, np.inf]])
    ranks = target_ranks(scores, [0, 0, 0], rng())
    assert ranks[:2].tolist() == [-1, -1]
    assert ranks[2] in (0, 1)  # +inf is a score like any other: tied with item 2


def test_a_mask_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="one row per scored shopper"):
        target_ranks(np.zeros((2, 4)), [0, 1], rng(), excluded=np.zeros((2, 3)))


@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
        elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, -np.inf]),  # few values: many ties
    ),
    st.data(),
)
def test_rank_properties(scores: np.ndarray, data: st.DataObject) -> None:
    b, n_items = scores.shape
    targets = np.array(data.draw(st.lists(st.integers(0, n_items - 1), min_size=b, max_size=b)))
    history = data.draw(hnp.arrays(np.bool_, scores.shape))
    seed = data.draw(st.integers(0, 2**32 - 1))
    ranks = target_ranks(scores, targets, rng(seed), excluded=history)
    rows = np.arange(b)
    target_scores = scores[rows, targets]
    allowed = ~history
    candidates = allowed.sum(axis=1)  # the target included, where allowed
    miss = history[rows, targets] | (target_scores == -np.inf)
    assert np.array_equal(ranks == -1, miss)
    kept = ~miss
    assert np.all(ranks[kept] >= 0) and np.all(ranks[kept] < candidates[kept])
    above = ((scores > target_scores[:, None]) & allowed).sum(axis=1)
    level = ((scores == target_scores[:, None]) & allowed).sum(axis=1) - 1
    assert np.all(ranks[kept] >= above[kept]) and np.all(ranks[kept] <= (above + level)[kept])
    for k in (1, 5, 10):
        ndcg = ndcg_of_ranks(ranks, k)
        assert np.all((ndcg >= 0) & (ndcg <= 1))
        assert np.all(ndcg <= hit_of_ranks(ranks, k))
    # a higher target score never ranks the target lower (same seed, same draws)
    raised = scores.copy()
    raised[rows, targets] = np.where(np.isfinite(target_scores), target_scores + 1.0, 0.0)
    better = target_ranks(raised, targets, rng(seed), excluded=history)
    assert np.all(better[kept] <= ranks[kept])
    assert np.array_equal(better == -1, history[rows, targets])
