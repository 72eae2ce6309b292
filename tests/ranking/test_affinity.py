"""Click affinity: shrunk click lifts of shown products given the shopper's engagements."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from shopsense.ranking.affinity import PAIR_PRIOR, affinity, click_lift, grown, recent_items
from shopsense.ranking.items import ItemStats, ItemTable


def _lift(rows: list[tuple[int, int, str, int]], n_items: int) -> sp.csr_matrix:
    """``(user, item, kind, request)`` rows in time order."""
    return click_lift(
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.str_),
        np.array([r[3] for r in rows], np.int64),
        n_items,
    )


def test_known_answer() -> None:
    """Viewers of product 0 click product 2 when shown it; viewers of 1 never do."""
    rows: list[tuple[int, int, str, int]] = []
    for user in range(10):
        request = user
        rows.append((user, user % 2, "view", -1))
        rows.append((user, 2, "impression", request))
        if user % 2 == 0:
            rows.append((user, 2, "click", request))
    lift = _lift(rows, 3)
    # product 2: 5 clicks in 10 impressions; shop rate (5 + 1) / (10 + 2)
    base = 6 / 12
    ctr = (5 + PAIR_PRIOR * base) / (10 + PAIR_PRIOR)
    expected_0 = math.log((5 + PAIR_PRIOR * ctr) / (5 + PAIR_PRIOR)) - math.log(ctr)
    expected_1 = math.log((0 + PAIR_PRIOR * ctr) / (5 + PAIR_PRIOR)) - math.log(ctr)
    assert math.isclose(lift[0, 2], expected_0, rel_tol=1e-5)
    assert math.isclose(lift[1, 2], expected_1, rel_tol=1e-5)
    assert lift[0, 2] > 0 > lift[1, 2]
    assert lift.nnz == 2  # pairs never shown are not stored: no evidence
    # the click on 2 made 2 part of the clicker's history, but nobody was shown anything later
    assert affinity(lift, np.array([0]), np.array([2, 1]))[0] == np.float32(expected_0)
    assert affinity(lift, np.array([0, 1]), np.array([2]))[0] == np.float32(
        (np.float32(expected_0) + np.float32(expected_1)) / 2
    )


def test_impressions_without_a_request_or_history_count_for_nothing() -> None:
    rows = [
        (0, 1, "impression", 0),  # no engagement before it: no history to describe
        (0, 1, "click", 0),
        (1, 0, "view", -1),
        (1, 1, "impression", -1),  # no request id: its outcome is unknown
    ]
    assert _lift(rows, 2).nnz == 0
    assert not affinity(_lift(rows, 2), np.array([0]), np.array([1])).any()


@given(st.lists(st.integers(min_value=-1, max_value=30), max_size=60))
def test_recent_items_are_distinct_most_recent_first(items: list[int]) -> None:
    recent = recent_items(items, limit=5)
    assert len(set(recent.tolist())) == recent.size <= 5
    assert all(i >= 0 for i in recent)
    valid = [i for i in items if i >= 0]
    if valid:
        assert recent[0] == valid[-1]


@given(st.integers(min_value=0, max_value=4))
def test_unknown_products_are_no_evidence(extra: int) -> None:
    rows = [(0, 0, "view", -1), (0, 1, "impression", 7), (0, 1, "click", 7)]
    lift = _lift(rows, 2)
    bigger = grown(lift, 2 + extra)
    assert bigger.shape == (2 + extra, 2 + extra)
    assert (bigger[:2, :2] != lift).nnz == 0
    scores = affinity(bigger, np.array([0, 2 + extra + 3]), np.array([1, 2 + extra, -1]))
    assert scores[0] > 0 and not scores[1:].any()


def test_item_stats_keep_the_affinity_and_old_files_load_without_it(tmp_path: Path) -> None:
    table = ItemTable.from_ids(["a", "b"])
    from small_shop import log_of

    log = log_of([(0, 0, "view"), (0, 1, "impression"), (0, 1, "click")])
    log.request[1:] = 3
    stats = ItemStats.from_log(log, table)
    assert stats.affinity[0, 1] > 0
    stats.save(tmp_path)
    again = ItemStats.load(tmp_path)
    assert (again.affinity != stats.affinity).nnz == 0
    with np.load(tmp_path / "item_stats.npz") as arrays:
        old = {k: arrays[k] for k in arrays.files if not k.startswith("affinity")}
    np.savez(tmp_path / "item_stats.npz", **old)
    assert ItemStats.load(tmp_path).affinity.nnz == 0


@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.integers(-2, 12), max_size=8),
    st.lists(st.integers(-2, 12), min_size=1, max_size=10),
)
def test_affinity_is_the_mean_of_the_history_rows(
    seed: int, history: list[int], candidates: list[int]
) -> None:
    """Read from the CSR arrays, it equals slicing the matrix (repeats and products outside
    it included)."""
    lift = sp.random(10, 10, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    h, c = np.array(history, np.int64), np.array(candidates, np.int64)
    got = affinity(lift, h, c)
    inside = h[(h >= 0) & (h < 10)]
    dense = lift.toarray().astype(np.float64)
    want = np.array(
        [dense[inside, j].sum() / inside.size if inside.size and 0 <= j < 10 else 0.0 for j in c]
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
