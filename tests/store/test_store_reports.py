"""The dashboard's aggregates on every backend: counted by the store, from a given moment."""

from __future__ import annotations

from datetime import timedelta

from factories import T0, event
from shopsense.store import InMemoryStore, SqlStore
from shopsense.store.base import QueryTotals, to_micros


def test_outcomes_count_only_events_from_the_given_moment(store: SqlStore | InMemoryStore) -> None:
    later = T0 + timedelta(days=3)
    store.events.append([
        event(1, user="U1", kind="purchase", price=5.0),  # before: not counted
        event(2, user="U2", kind="impression"),  # before: U2 is not in the report at all
        event(3, user="U1", kind="impression", timestamp=later),
        event(4, user="U1", kind="click", timestamp=later),
        event(5, user="U1", kind="purchase", price=7.0, quantity=2, timestamp=later),
    ])  # fmt: skip
    since = store.events.outcomes_by_user(since_us=to_micros(later))
    assert set(since) == {"U1"}
    u1 = since["U1"]
    assert (u1.impressions, u1.clicks, u1.purchases, u1.revenue) == (1, 1, 1, 14.0)
    everything = store.events.outcomes_by_user()
    assert set(everything) == {"U1", "U2"} and everything["U1"].purchases == 2


def test_search_report_counts_queries_zero_results_and_clicks(
    store: SqlStore | InMemoryStore,
) -> None:
    def search(i: int, query: str, request: str | None, **extra: object) -> object:
        return event(i, kind="search", item=None, query=query, request_id=request, **extra)

    store.events.append([
        search(1, "Sofa", "R1"),
        event(2, kind="impression", query="Sofa", request_id="R1", position=0),
        event(3, kind="click", request_id="R1", position=0),
        event(4, kind="click", request_id="R1", position=0, item="P2"),
        search(5, " sofa ", "R2"),  # the same query: trimmed, lower-cased
        event(6, kind="impression", query=" sofa ", request_id="R2", position=0),
        search(7, "blue velvet", "R3"),  # nothing shown: a zero-result search
        search(8, "blue velvet", "R4"),
        search(9, "lamp", "R5"),
        event(10, kind="impression", request_id="R5", position=0),  # a client's, no query
        search(11, "lamp", None),  # no request id: results unknown, not counted as zero
        event(12, kind="impression", request_id="R9"),  # a recommendation list
        search(13, "chair", "R8"),
        event(14, kind="click", request_id="R9"),  # on that list, not on the search's
        search(15, "old", "R0", timestamp=T0 - timedelta(days=2)),  # outside the window
    ])  # fmt: skip
    report = store.events.search_report(since_us=to_micros(T0 - timedelta(days=1)), limit=10)
    assert report.top == [
        QueryTotals("blue velvet", searches=2, zero_results=2, clicked=0, clicks=0),
        QueryTotals("lamp", searches=2, zero_results=0, clicked=0, clicks=0),
        QueryTotals("sofa", searches=2, zero_results=0, clicked=1, clicks=2),
        QueryTotals("chair", searches=1, zero_results=1, clicked=0, clicks=0),
    ]
    assert [(t.query, t.zero_results) for t in report.zero_results] == [
        ("blue velvet", 2),
        ("chair", 1),
    ]
    assert report.overall == QueryTotals("", 7, 3, 1, 2)
    assert [t.query for t in store.events.search_report(limit=1).top] == ["blue velvet"]
    assert store.events.search_report().overall.searches == 8


def test_search_report_of_an_empty_log(store: SqlStore | InMemoryStore) -> None:
    report = store.events.search_report()
    assert report.overall == QueryTotals("", 0, 0, 0, 0)
    assert report.top == [] and report.zero_results == []
