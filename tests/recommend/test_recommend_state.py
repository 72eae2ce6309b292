"""The serving catalog and the shoppers' recent events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shopsense.domain import Event, Product
from shopsense.features.idmap import IdMap
from shopsense.recommend import CatalogView, ItemFilter, RecentEvents
from shopsense.recommend.history import LoadHistory, RecentEvent, current_session, item_history

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(n: int, user: str = "u", kind: str = "view", minutes: int | None = None) -> Event:
    return Event(
        event_id=f"e{n}",
        user_id=user,
        kind=kind,
        item_id=f"P{n}",
        session_id=f"s{n // 10}",
        timestamp=T0 + timedelta(minutes=n if minutes is None else minutes),
    )


def test_masks_follow_catalog_updates() -> None:
    view = CatalogView([Product(id="a", title="A", price=5), Product(id="b", title="B")])
    items = IdMap(["a", "b", "c"])
    assert view.mask(items, ItemFilter()).tolist() == [True, True, False]
    assert view.mask(items, ItemFilter(price_min=1)).tolist() == [True, False, False]
    view.upsert([Product(id="c", title="C"), Product(id="a", title="A", in_stock=False)])
    assert view.mask(items, ItemFilter()).tolist() == [False, True, True]
    view.remove(["b"])
    assert view.mask(items, ItemFilter(in_stock_only=False)).tolist() == [True, False, True]
    assert view.get_many(["c", "zz", "a"])[0].id == "c"


def test_recent_events_load_once_then_add_in_time_order() -> None:
    loads: list[str] = []

    def load(user: str, limit: int) -> list[Event]:
        loads.append(user)
        return [event(1), event(5)]

    recent = RecentEvents(load, per_user=3)
    assert [e.event_id for e in recent.get("u")] == ["e1", "e5"]
    recent.add([event(3), event(3), event(9), event(2, user="someone-else")])
    assert [e.event_id for e in recent.get("u")] == ["e3", "e5", "e9"]  # capped at 3
    assert loads == ["u"]
    recent.forget("u")
    recent.get("u")
    assert loads == ["u", "u"]


def test_irrelevant_events_do_not_push_purchases_out() -> None:
    stored = [event(1, kind="purchase")] + [event(n, kind="impression") for n in range(2, 40)]
    recent = RecentEvents(
        lambda u, limit: stored[-limit:], per_user=3, relevant=lambda e: e.kind != "impression"
    )
    assert [e.event_id for e in recent.get("u")] == ["e1"]
    recent.add([event(50, kind="impression")])
    assert [e.event_id for e in recent.get("u")] == ["e1"]


def test_impressions_are_read_apart_from_the_events_they_would_push_out() -> None:
    stored = [event(1, kind="view")] + [event(n, kind="impression") for n in range(2, 40)]
    asked: list[tuple[str, int]] = []

    def load(kind: str) -> LoadHistory:
        def read(user: str, limit: int) -> list[Event]:
            asked.append((kind, limit))
            return [e for e in stored if (e.kind == "impression") == (kind == "shown")][-limit:]

        return read

    recent = RecentEvents(
        load("other"), per_user=3, scan=1, impressions_per_user=5, load_impressions=load("shown")
    )
    kept = [e.event_id for e in recent.get("u")]
    assert kept == ["e1", "e35", "e36", "e37", "e38", "e39"]  # oldest first, both budgets
    assert sorted(asked) == [("other", 3), ("shown", 5)]
    recent.add([event(50, kind="impression"), event(51, kind="view")])
    assert [e.event_id for e in recent.get("u")] == ["e1", *kept[2:], "e50", "e51"]


def test_a_served_list_joins_the_shoppers_history_within_its_budget() -> None:
    recent = RecentEvents(lambda u, limit: [event(1, user=u)], impressions_per_user=2)
    assert [e.event_id for e in recent.get("u")] == ["e1"]
    shown = [event(n, kind="impression") for n in (2, 3, 4)]
    recent.add_shown(
        "u", [RecentEvent(e.event_id, e.item_id, e.kind, None, e.timestamp) for e in shown]
    )
    recent.add_shown("stranger", shown)  # not in memory: read from the store when asked
    assert [e.event_id for e in recent.get("u")] == ["e1", "e3", "e4"]
    assert "stranger" not in recent.user_ids()


@given(st.lists(st.integers(0, 500), max_size=60))
def test_recent_events_stay_sorted_and_unique(minutes: list[int]) -> None:
    recent = RecentEvents(lambda u, limit: [], per_user=20)
    recent.get("u")
    recent.add([event(i, minutes=m) for i, m in enumerate(minutes)])
    recent.add([event(i, minutes=m) for i, m in enumerate(minutes)])  # re-sent: no duplicates
    kept = recent.get("u")
    stamps = [e.timestamp for e in kept]
    assert stamps == sorted(stamps)
    assert len({e.event_id for e in kept}) == len(kept) == min(len(minutes), 20)


def test_histories_in_memory_are_a_few_objects_per_shopper_whatever_their_length() -> None:
    # Regression: each kept pydantic Event cost three garbage-collected objects, so a full
    # collection over thousands of shoppers' histories stalled the server for ~200 ms.
    import gc

    stored = [event(n, kind="purchase") for n in range(50)]
    recent = RecentEvents(lambda u, limit: [e.model_copy() for e in stored], per_user=50)
    gc.collect()
    before = len(gc.get_objects())
    for user in range(200):
        recent.get(f"u{user}")
    gc.collect()
    assert len(gc.get_objects()) - before < 200 * 12  # not 200 x 50 x 3
    kept = recent.get("u7")
    assert [e.item_id for e in kept] == [e.item_id for e in stored]
    assert (kept[-1].kind, kept[-1].session_id) == ("purchase", "s4")
    assert kept[-1].timestamp == stored[-1].timestamp


def test_item_history_and_sessions() -> None:
    events = [event(1, kind="view"), event(2, kind="impression"), event(11, kind="purchase")]
    items, weights = item_history(events, {"view": 1.0, "purchase": 8.0})  # type: ignore[dict-item]
    assert items == ["P1", "P11"] and weights == [1.0, 8.0]
    assert [e.event_id for e in current_session(events)] == ["e11"]
    assert current_session([]) == []


def test_models_with_equal_item_lists_share_columns() -> None:
    view = CatalogView([Product(id="a", title="A"), Product(id="b", title="B", in_stock=False)])
    first, second = IdMap(["a", "b"]), IdMap(["a", "b"])
    assert view.mask(first, ItemFilter()).tolist() == view.mask(second, ItemFilter()).tolist()
    assert view._columns_for(first) is view._columns_for(second)
    assert view._columns_for(IdMap(["b", "a"])) is not view._columns_for(first)


def test_the_least_recently_used_shopper_leaves_memory_first() -> None:
    loads: list[str] = []

    def load(user: str, limit: int) -> list[Event]:
        loads.append(user)
        return [event(1, user=user)]

    recent = RecentEvents(load, max_users=2)
    recent.get("a")
    recent.get("b")
    recent.get("a")  # "b" is now the least recently used
    recent.get("c")
    assert sorted(recent.user_ids()) == ["a", "c"] and len(recent) == 2
    recent.add([event(2, user="a")])  # new events count as a use
    recent.get("b")
    assert sorted(recent.user_ids()) == ["a", "b"]
    assert loads == ["a", "b", "c", "b"]


def test_no_shopper_is_kept_with_max_users_zero() -> None:
    recent = RecentEvents(lambda u, limit: [event(1, user=u)], max_users=0)
    assert [e.event_id for e in recent.get("u")] == ["e1"]
    assert len(recent) == 0


def test_mask_cache_drops_the_first_filter_cached_first() -> None:
    view = CatalogView([Product(id="a", title="A", price=5)])
    items = IdMap(["a"])
    filters = [ItemFilter(price_max=float(p)) for p in range(257)]
    first = view.mask(items, filters[0])
    assert view.mask(items, filters[0]) is first  # a hit is the cached array
    for rules in filters[1:]:
        view.mask(items, rules)
    assert view.mask(items, filters[-1]) is view.mask(items, filters[-1])
    assert view.mask(items, filters[0]) is not first  # 256 kept: the first one went
