from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.evaluation.split import leave_one_out, temporal_split
from shopsense.features.interactions import InteractionData


def test_last_item_is_test_second_last_is_valid() -> None:
    data = InteractionData.from_sequences({"u": ["a", "b", "a", "c", "d"], "short": ["a", "b"]})
    split = leave_one_out(data)
    u, short = data.users.index("u"), data.users.index("short")
    assert list(data.items.ids(split.test_targets[u].indices)) == ["d"]
    assert list(data.items.ids(split.valid_targets[u].indices)) == ["c"]
    assert split.test_targets[short].nnz == 0
    assert list(data.items.ids(split.train.sequence(u))) == ["a", "b", "a"]
    assert list(data.items.ids(split.train_full.sequence(u))) == ["a", "b", "a", "c"]
    assert list(data.items.ids(split.train.sequence(short))) == ["a", "b"]
    assert list(split.users("test")) == [u]


def test_consecutive_repeats_are_one_step() -> None:
    data = InteractionData.from_sequences({"u": ["a", "b", "b", "b", "c", "c"]})
    split = leave_one_out(data)
    assert list(data.items.ids(split.test_targets[0].indices)) == ["c"]
    assert list(data.items.ids(split.valid_targets[0].indices)) == ["b"]
    assert split.train.n_events == 1
    assert split.train_full.n_events == 4


def test_temporal_split_targets_are_new_items_after_the_cut() -> None:
    data = InteractionData.from_sequences(
        {"u": [str(i) for i in range(10)], "v": ["0", "1", "0", "1", "0", "1", "0", "1", "9", "8"]}
    )
    split = temporal_split(data, valid_fraction=0.2, test_fraction=0.2)
    v = data.users.index("v")
    assert set(data.items.ids(split.test_targets[v].indices)) <= {"8", "9"}
    assert split.train.n_events < split.train_full.n_events < data.n_events


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.sampled_from([f"u{i}" for i in range(8)]),
        st.lists(st.sampled_from(list("abcdefghij")), min_size=1, max_size=12),
        min_size=1,
    )
)
def test_held_out_steps_never_leak_into_training(histories: dict[str, list[str]]) -> None:
    data = InteractionData.from_sequences(histories)
    split = leave_one_out(data)
    for user in range(data.n_users):
        steps = data.sequence(user)
        train, full = split.train.sequence(user), split.train_full.sequence(user)
        if split.test_targets[user].nnz:
            assert steps.size >= 3
            assert list(full) == list(steps[:-1])
            assert list(train) == list(steps[:-2])
            assert split.test_targets[user].indices[0] == steps[-1]
            assert split.valid_targets[user].indices[0] == steps[-2]
        else:
            assert list(train) == list(steps)
    test_users = np.diff(split.test_targets.indptr) > 0
    assert np.array_equal(test_users, np.diff(split.valid_targets.indptr) > 0)
