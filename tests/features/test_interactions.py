from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsense.domain import Event, EventKind
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData
from shopsense.store import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(i: int, user: str, item: str | None, kind: str, days: float = 0.0, **more: object) -> Event:
    extra: dict[str, object] = {"query": "q"} if kind == "search" else {}
    return Event.model_validate(
        {
            "event_id": f"e{i}",
            "user_id": user,
            "kind": kind,
            "item_id": item,
            "timestamp": T0 + timedelta(days=days),
            **extra,
            **more,
        }
    )


def test_weights_add_up_per_kind_and_skip_impressions_and_searches() -> None:
    store = InMemoryStore()
    store.events.append(
        [
            ev(1, "u", "a", "view"),
            ev(2, "u", "a", "click"),
            ev(3, "u", "a", "purchase"),
            ev(4, "u", "b", "impression"),
            ev(5, "u", None, "search"),
            ev(6, "v", "b", "add_to_cart"),
        ]
    )
    weights = {
        EventKind.VIEW: 1.0,
        EventKind.CLICK: 2.0,
        EventKind.ADD_TO_CART: 4.0,
        EventKind.PURCHASE: 8.0,
    }
    data = InteractionData.from_events(
        store.events.iter_batches(), weights=weights, items=["a", "b", "c"]
    )
    assert data.items.to_list() == ["a", "b", "c"]
    m = data.matrix.toarray()
    assert m[data.users.index("u"), 0] == pytest.approx(11.0)
    assert m[data.users.index("u"), 1] == 0.0
    assert m[data.users.index("v"), 1] == pytest.approx(4.0)
    assert data.matrix.shape == (2, 3)


def test_time_decay_halves_weight_per_half_life() -> None:
    store = InMemoryStore()
    store.events.append([ev(1, "u", "a", "view", days=0), ev(2, "u", "b", "view", days=7)])
    data = InteractionData.from_events(store.events.iter_batches(), half_life_days=7.0)
    row = data.matrix.toarray()[0]
    assert row[data.items.index("a")] == pytest.approx(0.5)
    assert row[data.items.index("b")] == pytest.approx(1.0)


def test_last_seen_is_the_latest_time_per_cell(tmp_path: Path) -> None:
    store = InMemoryStore()
    store.events.append([ev(1, "u", "a", "view", days=3), ev(2, "u", "a", "view", days=1)])
    data = InteractionData.from_events(store.events.iter_batches())
    assert data.last_seen[0, 0] == int((T0 + timedelta(days=3)).timestamp() * 1_000_000)
    data.save(tmp_path / "d")
    loaded = InteractionData.load(tmp_path / "d")
    assert (loaded.matrix != data.matrix).nnz == 0
    assert loaded.users == data.users
    assert list(loaded.sequence(0)) == list(data.sequence(0))


@given(st.lists(st.text(min_size=1, max_size=5), max_size=30))
def test_idmap_round_trips(ids: list[str]) -> None:
    m = IdMap(ids)
    assert len(m) == len(set(ids))
    for value in ids:
        assert m.id(m.index(value)) == value
    assert list(m.indices([*ids, "\x00unknown"])[-1:]) == [-1] or "\x00unknown" in ids
    np.testing.assert_array_equal(m.ids(range(len(m))), np.array(m.to_list(), dtype=str))


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=3),
        st.lists(st.sampled_from("abcdef"), min_size=1, max_size=10),
        max_size=6,
    )
)
def test_sequences_round_trip_with_repeats_collapsed(seqs: dict[str, list[str]]) -> None:
    data = InteractionData.from_sequences(seqs)
    for user, items in seqs.items():
        collapsed = [x for i, x in enumerate(items) if i == 0 or items[i - 1] != x]
        assert list(data.items.ids(data.sequence(data.users.index(user)))) == collapsed
        assert data.matrix[data.users.index(user)].sum() == len(items)


def test_group_by_session_makes_baskets() -> None:
    store = InMemoryStore()
    store.events.append(
        [
            ev(1, "u", "a", "purchase", session_id="s1"),
            ev(2, "u", "b", "purchase", session_id="s1"),
            ev(3, "u", "c", "purchase", session_id="s2"),
            ev(4, "v", "a", "purchase"),
        ]
    )
    data = InteractionData.from_events(store.events.iter_batches(), group_by="session")
    assert sorted(data.users.to_list()) == ["s1", "s2", "v"]
    assert data.matrix[data.users.index("s1")].nnz == 2
