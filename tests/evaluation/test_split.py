from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.domain import Event
from shopsense.evaluation.split import leave_last_out
from shopsense.features.interactions import InteractionData
from shopsense.store import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def data_from(histories: dict[str, list[str]]) -> InteractionData:
    store = InMemoryStore()
    store.events.append(
        [
            Event(
                event_id=f"{u}-{k}",
                user_id=u,
                kind="view",
                item_id=item,
                timestamp=T0 + timedelta(minutes=k),
            )
            for u, items in histories.items()
            for k, item in enumerate(items)
        ]
    )
    return InteractionData.from_events(store.events.iter_batches())


def test_last_item_is_test_second_last_is_valid() -> None:
    data = data_from({"u": ["a", "b", "c", "d"], "short": ["a", "b"]})
    split = leave_last_out(data)
    u = data.users.index("u")
    assert data.items.id(int(split.test_items[u])) == "d"
    assert data.items.id(int(split.valid_items[u])) == "c"
    assert split.test_items[data.users.index("short")] == -1
    train_row = split.train.matrix[u].indices
    assert {data.items.id(int(i)) for i in train_row} == {"a", "b"}
    full_row = split.train_full.matrix[u].indices
    assert {data.items.id(int(i)) for i in full_row} == {"a", "b", "c"}


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.sampled_from([f"u{i}" for i in range(8)]),
        st.lists(st.sampled_from(list("abcdefghij")), min_size=1, max_size=12, unique=True),
        min_size=1,
    )
)
def test_held_out_items_never_leak_into_training(histories: dict[str, list[str]]) -> None:
    data = data_from(histories)
    split = leave_last_out(data)
    for user in range(data.n_users):
        test, valid = split.test_items[user], split.valid_items[user]
        train_items = set(split.train.matrix[user].indices)
        full_items = set(split.train_full.matrix[user].indices)
        if test >= 0:
            assert test not in full_items and test not in train_items
            assert valid >= 0 and valid != test
            assert valid in full_items and valid not in train_items
        assert split.train.matrix[user].nnz + (test >= 0) + (valid >= 0) == data.matrix[user].nnz
    assert np.all((split.test_items >= 0) == (split.valid_items >= 0))
