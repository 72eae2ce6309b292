"""Exploration: the logged propensity of what was shown is its true probability."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.errors import ConfigError
from shopsense.ranking.exploration import explore


def test_greedy_shows_the_top_with_propensity_one() -> None:
    shown, propensity = explore(np.arange(10), 4, 0.0, np.random.default_rng(0))
    assert shown.tolist() == [0, 1, 2, 3]
    assert propensity.tolist() == [1.0] * 4


@pytest.mark.parametrize(
    ("k", "n", "epsilon"),
    [(8, 3, 0.3), (5, 3, 0.5), (3, 2, 1.0)],  # a long pool; short pools (regression: k=3, n=2)
)
def test_propensities_match_the_frequencies(k: int, n: int, epsilon: float) -> None:
    """Monte Carlo: how often each (slot, item) is shown equals its logged propensity,
    also when fewer candidates lie below the list than it has slots."""
    ranked, runs = np.arange(k), 40_000
    rng = np.random.default_rng(1)
    seen: Counter[tuple[int, int]] = Counter()
    logged: dict[tuple[int, int], float] = {}
    for _ in range(runs):
        shown, propensity = explore(ranked, n, epsilon, rng)
        assert len(set(shown.tolist())) == n  # never the same item twice
        for slot, (item, p) in enumerate(zip(shown.tolist(), propensity.tolist(), strict=True)):
            seen[(slot, item)] += 1
            logged[(slot, item)] = p
    for key, p in logged.items():
        assert 0 < p <= 1
        assert seen[key] / runs == pytest.approx(p, abs=0.01)
    assert sum(seen.values()) == runs * n


def test_a_short_pool_explores_only_the_last_slots() -> None:
    """Regression: with one candidate below a two-slot list and epsilon 1, the first slot
    used to keep its item with a logged propensity of 0."""
    shown, propensity = explore(np.array([7, 4, 9]), 2, 1.0, np.random.default_rng(0))
    assert shown.tolist() == [7, 9]
    assert propensity.tolist() == [1.0, 1.0]
    shown, propensity = explore(np.arange(8), 3, 0.3, np.random.default_rng(0))
    assert propensity.min() > 0


@settings(max_examples=50)
@given(
    k=st.integers(0, 30), n=st.integers(1, 12), epsilon=st.floats(0.0, 1.0), seed=st.integers(0, 99)
)
def test_any_list_is_distinct_candidates_with_valid_propensities(
    k: int, n: int, epsilon: float, seed: int
) -> None:
    ranked = np.random.default_rng(seed).permutation(100)[:k]
    shown, propensity = explore(ranked, n, epsilon, np.random.default_rng(seed))
    assert shown.size == min(n, k)
    assert set(shown.tolist()) <= set(ranked.tolist())
    assert len(set(shown.tolist())) == shown.size
    assert ((propensity > 0) & (propensity <= 1)).all()


def test_refuses_a_rate_outside_zero_one() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        explore(np.arange(5), 2, 1.5, np.random.default_rng(0))
