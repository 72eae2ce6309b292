"""Session logs: funnel order, attribution, launch dates, position bias and complements."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise

import numpy as np

from shopsense.domain import EventKind
from shopsense.synth import SampleShop
from shopsense.synth.vocabulary import COMPLEMENTS

FUNNEL = (
    EventKind.IMPRESSION,
    EventKind.CLICK,
    EventKind.VIEW,
    EventKind.ADD_TO_CART,
    EventKind.PURCHASE,
)


def test_events_are_sorted_and_inside_the_window(medium_shop: SampleShop) -> None:
    times = [e.timestamp for e in medium_shop.events]
    assert times == sorted(times)
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert medium_shop.truth.start <= times[0] and times[-1] < medium_shop.truth.end


def test_timestamps_strictly_increase_within_a_session(medium_shop: SampleShop) -> None:
    by_session = defaultdict(list)
    for event in medium_shop.events:
        by_session[event.session_id].append(event)
    for events in by_session.values():
        assert len({e.user_id for e in events}) == 1
        assert all(a.timestamp < b.timestamp for a, b in pairwise(events))


def test_funnel_order_per_item_within_a_session(medium_shop: SampleShop) -> None:
    first: dict[tuple[str | None, str | None, EventKind], int] = {}
    for n, event in enumerate(medium_shop.events):
        first.setdefault((event.session_id, event.item_id, event.kind), n)
    checked = 0
    for (session, item, kind), n in first.items():
        stage = FUNNEL.index(kind) if kind in FUNNEL else 0
        if stage == 0:
            continue
        earlier = first.get((session, item, FUNNEL[stage - 1]))
        assert earlier is not None and earlier < n, (session, item, kind)
        checked += 1
    assert checked > 1000


def test_clicks_point_at_an_earlier_impression(medium_shop: SampleShop) -> None:
    shown = set()
    for event in medium_shop.events:
        key = (event.request_id, event.position, event.item_id)
        if event.kind is EventKind.IMPRESSION:
            shown.add(key)
        elif event.kind is EventKind.CLICK:
            assert key in shown


def test_lists_are_numbered_from_zero(medium_shop: SampleShop) -> None:
    positions = defaultdict(list)
    for event in medium_shop.events:
        if event.kind is EventKind.IMPRESSION:
            positions[event.request_id].append(event.position)
    assert all(p == list(range(len(p))) for p in positions.values())


def test_searches_have_queries_and_purchases_have_prices(medium_shop: SampleShop) -> None:
    price: dict[str | None, float | None] = {p.id: p.price for p in medium_shop.products}
    searches = [e for e in medium_shop.events if e.kind is EventKind.SEARCH]
    assert searches and all(e.query and e.item_id is None for e in searches)
    assert len({e.query for e in searches}) > len(searches) / 4  # varied wording
    for event in medium_shop.events:
        if event.kind is EventKind.PURCHASE:
            assert event.quantity is not None and event.quantity >= 1
            assert event.price == price[event.item_id]
        else:
            assert event.quantity is None


def test_products_are_shown_only_after_their_launch(medium_shop: SampleShop) -> None:
    created = {p.id: p.created_at or medium_shop.truth.end for p in medium_shop.products}
    start = medium_shop.truth.start
    assert any(launch > start for launch in created.values())  # some are new in the window
    for event in medium_shop.events:
        if event.item_id is not None:
            assert event.timestamp >= created[event.item_id]


def test_out_of_stock_products_are_never_bought(medium_shop: SampleShop) -> None:
    in_stock: dict[str | None, bool] = {p.id: p.in_stock for p in medium_shop.products}
    bought = [e.item_id for e in medium_shop.events if e.kind is EventKind.ADD_TO_CART]
    assert all(in_stock[item] for item in bought)


def test_top_positions_get_more_clicks(medium_shop: SampleShop) -> None:
    shown: Counter[int] = Counter()
    clicked: Counter[int] = Counter()
    for event in medium_shop.events:
        if event.kind is EventKind.IMPRESSION:
            shown[event.position or 0] += 1
        elif event.kind is EventKind.CLICK:
            clicked[event.position or 0] += 1
    ctr = [clicked[p] / shown[p] for p in range(10)]
    assert ctr[0] > ctr[3] > ctr[9]


def test_activity_is_heavy_tailed(medium_shop: SampleShop) -> None:
    sessions: dict[str, set[str | None]] = defaultdict(set)
    for event in medium_shop.events:
        sessions[event.user_id].add(event.session_id)
    counts = np.array([len(s) for s in sessions.values()])
    assert counts.max() >= 4 * np.median(counts)


def test_complements_are_bought_together(medium_shop: SampleShop) -> None:
    category = {p.id: p.category_path for p in medium_shop.products}
    baskets: dict[str | None, set[str]] = defaultdict(set)
    sessions = set()
    for event in medium_shop.events:
        sessions.add(event.session_id)
        if event.kind is EventKind.PURCHASE and event.item_id is not None:
            baskets[event.session_id].add(category[event.item_id])
    n = len(sessions)
    buying = Counter(leaf for basket in baskets.values() for leaf in basket)
    observed = expected = 0.0
    for leaf, partners in COMPLEMENTS.items():
        for partner in partners:
            observed += sum(leaf in b and partner in b for b in baskets.values())
            expected += buying[leaf] * buying[partner] / n
    assert observed >= 5
    assert observed > 10 * expected
