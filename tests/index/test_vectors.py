from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.errors import ConfigError
from shopsense.index.vectors import VectorIndex


def unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_and_ann_agree_on_the_nearest() -> None:
    rng = np.random.default_rng(0)
    vectors = unit(rng, 500)
    exact = VectorIndex(16, exact_below=10_000)
    ann = VectorIndex(16, exact_below=0)
    for index in (exact, ann):
        index.upsert(np.arange(500), vectors)
    agree = 0
    for i, q in enumerate(vectors[:50]):
        rows_e, sim_e = exact.search(q, 5)
        rows_a, _ = ann.search(q, 5)
        assert rows_e[0] == i and sim_e[0] == pytest.approx(1.0, abs=1e-5)
        agree += int(rows_a[0] == i)
    assert agree >= 48  # HNSW is approximate: near-perfect recall@1, not guaranteed


def test_upsert_replace_remove_without_rebuild() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 50)
    for exact_below in (0, 10_000):
        index = VectorIndex(16, exact_below=exact_below)
        index.upsert(np.arange(50), vectors)
        index.upsert(np.array([7]), vectors[[3]])  # row 7 now points where row 3 does
        rows, _ = index.search(vectors[3], 2)
        assert set(rows.tolist()) == {3, 7}
        index.remove(np.array([3, 99]))
        assert len(index) == 49
        assert 3 not in index.search(vectors[3], 5)[0]


def test_filtered_search_only_returns_allowed_rows() -> None:
    rng = np.random.default_rng(2)
    index = VectorIndex(16, exact_below=0)
    index.upsert(np.arange(300), unit(rng, 300))
    allowed = np.zeros(300, bool)
    allowed[::7] = True
    rows, _ = index.search(unit(rng, 1)[0], 10, allowed)
    assert len(rows) == 10 and allowed[rows].all()


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ConfigError, match="shape"):
        VectorIndex(16).upsert(np.arange(2), np.zeros((2, 8), np.float32))


def test_save_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    index = VectorIndex(16, exact_below=0)
    index.upsert(np.arange(40), unit(rng, 40))
    index.remove(np.array([5]))
    index.save(tmp_path / "v")
    loaded = VectorIndex.load(tmp_path / "v")
    q = unit(rng, 1)[0]
    assert loaded.search(q, 5)[0].tolist() == index.search(q, 5)[0].tolist()
    assert len(loaded) == 39


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(1, 20), st.integers(0, 10_000))
def test_results_are_sorted_and_bounded(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = VectorIndex(16)
    index.upsert(np.arange(n), unit(rng, n))
    rows, sims = index.search(unit(rng, 1)[0], k)
    assert len(rows) == min(n, k)
    assert (np.diff(sims) <= 1e-6).all()
    assert len(set(rows.tolist())) == len(rows)
