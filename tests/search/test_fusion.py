from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shopsense.search.fusion import demote, ranks, rrf, weighted
from shopsense.search.personalize import blend


def test_rrf_known_answer() -> None:
    # ranks (1, 2, 3) and (3, 1, 2) with k = 1: 1/2 + 1/4, 1/3 + 1/2, 1/4 + 1/3
    fused = rrf([np.array([3.0, 2.0, 1.0]), np.array([0.1, 0.9, 0.5])], k=1.0)
    assert np.allclose(fused, [0.75, 5 / 6, 7 / 12])


def test_rrf_ignores_lists_a_candidate_is_missing_from() -> None:
    present = [np.array([True, False]), np.array([True, True])]
    fused = rrf([np.array([1.0, 0.0]), np.array([0.0, 1.0])], k=0.0, present=present)
    assert np.allclose(fused, [1.0 + 0.5, 1.0])


def test_weighted_known_answer() -> None:
    # z: z(bm25) = (1.2247, 0, -1.2247); z(cosine) = (-1.2247, 1.2247, 0)
    fused = weighted(np.array([4.0, 2.0, 0.0]), np.array([0.2, 0.8, 0.5]), 0.5, "z")
    assert np.allclose(fused, [0.0, 0.61237, -0.61237], atol=1e-4)
    # A constant list carries no evidence: only the other one orders the candidates.
    assert np.allclose(weighted(np.zeros(2), np.array([0.3, 0.1]), 0.7, "z"), [0.3, -0.3])
    assert len(weighted(np.zeros(0), np.zeros(0), 0.5, "z")) == 0
    # max: 0.5 * bm25 / 4 + 0.5 * cosine
    fused = weighted(np.array([4.0, 2.0, 0.0]), np.array([0.2, 0.8, 0.5]), w=0.5)
    assert np.allclose(fused, [0.6, 0.65, 0.25])
    assert np.allclose(weighted(np.zeros(2), np.array([0.3, 0.1]), 0.7), [0.09, 0.03])


def test_demote_known_answer() -> None:
    scores = np.array([0.9, 0.5, 0.1])
    # range 0.8; penalty 0.5 -> a product with every excluded word drops 0.4
    assert np.allclose(demote(scores, np.array([1.0, 0.0, 0.5]), 0.5), [0.5, 0.5, -0.1])
    # penalty 1: no higher than the lowest product without the words
    demoted = demote(scores, np.array([1.0, 0.0, 0.0]), 1.0)
    assert demoted[0] <= demoted[1:].min() + 1e-6
    assert np.array_equal(demote(scores, None, 1.0), scores.astype(np.float32))
    assert len(demote(np.zeros(0), np.zeros(0), 1.0)) == 0


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=30))
def test_ranks_are_a_permutation(values: list[float]) -> None:
    r = ranks(np.array(values))
    assert sorted(r.tolist()) == list(range(1, len(values) + 1))
    best = int(np.argmin(r))
    assert values[best] == max(values)


@given(
    st.lists(st.floats(0, 1), min_size=2, max_size=40),
    st.integers(1, 40),
    st.floats(0, 3),
)
def test_blend_keeps_the_head_above_the_tail(
    values: list[float], depth: int, weight: float
) -> None:
    relevance = np.array(values, np.float32)
    affinity = np.random.default_rng(0).normal(size=len(values)).astype(np.float32)
    mixed = blend(relevance, affinity, weight, depth)
    head = np.argsort(-relevance, kind="stable")[:depth]
    tail = np.setdiff1d(np.arange(len(values)), head)
    if len(tail):
        assert mixed[head].min() > mixed[tail].max()
    if weight == 0:
        order = np.argsort(-mixed, kind="stable")
        assert np.allclose(relevance[order], np.sort(relevance)[::-1])
