"""A shopper's running history."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shopsense.ranking.items import ItemTable
from shopsense.ranking.shopper import ShopperState, shopper_state, values_at

TABLE = ItemTable.from_ids(["a", "b", "c"])
KINDS = ["impression", "view", "click", "add_to_cart", "purchase", "search"]


def test_observe_known_answer() -> None:
    state = shopper_state(
        TABLE,
        [
            ("a", "impression", 1),
            ("a", "impression", 2),
            ("a", "click", 3),
            ("b", "impression", 4),
            ("c", "view", 5),
            ("zzz", "view", 6),  # unknown item: nothing changes
            (None, "search", 7),
        ],
    )
    assert state.items == [0, 2]  # the click on a and the view of c are engagements
    assert state.n_shown == 3 and state.n_clicked == 1
    assert list(state.skips(np.array([0, 1, 2]))) == [1.0, 1.0, 0.0]
    assert state.last_step == {0: 0, 2: 1}


@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(KINDS)), max_size=40))
def test_skips_never_negative_and_snapshot_is_independent(
    events: list[tuple[int, str]],
) -> None:
    state = ShopperState(TABLE.n_leaves, TABLE.n_brands)
    for t, (item, kind) in enumerate(events):
        state.observe(TABLE, item, kind, t)
    assert (state.skips(np.arange(3)) >= 0).all()
    copy = state.snapshot()
    state.observe(TABLE, 0, "view", 99)
    assert copy.engaged == state.engaged - 1
    assert copy.leaf_counts.sum() < state.leaf_counts.sum()


@given(
    st.dictionaries(st.integers(0, 30), st.integers(0, 9), max_size=12),
    st.lists(st.integers(-3, 35), max_size=20),
    st.floats(-2, 2, allow_nan=False),
)
def test_values_at_reads_a_mapping_like_get(
    mapping: dict[int, int], items: list[int], default: float
) -> None:
    got = values_at(mapping, np.array(items, np.int64), default)
    assert got.tolist() == [float(mapping.get(i, default)) for i in items]
