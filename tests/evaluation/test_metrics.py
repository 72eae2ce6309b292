"""Known-answer tests: every value below is computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsense.evaluation.metrics import (
    average_precision,
    catalog_coverage,
    hit_at_k,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    single_target_metrics,
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
    from shopsense.evaluation.metrics import roc_auc

    # positives 0.35, 0.8 against negatives 0.1, 0.4: pairs won 1 + 2 of 4
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # positives 0.5, 0.9; negatives 0.5, 0.2, 0.5: (0.5 vs .5, .2, .5) = .5 + 1 + .5,
    # (0.9 beats all 3) = 3 -> 5 of 6 pairs
    assert roc_auc([1, 0, 0, 1, 0], [0.5, 0.5, 0.2, 0.9, 0.5]) == pytest.approx(5 / 6)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # one tie: half a pair
    assert roc_auc([1, 0], [0.9, 0.1]) == 1.0 and roc_auc([0, 1], [0.9, 0.1]) == 0.0
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))
