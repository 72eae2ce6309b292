"""Shop analytics for the dashboard: events, click-through and conversion per day; searches.

Counted by the store (grouped queries on SQL), so it stays cheap on millions of events.
Click-through is clicks / impressions; conversion is purchases / views; a day without
impressions (views) has no rate (``None``), not a rate of 0. Days are UTC calendar days:
every day of the window has a row, days without events included, and today's row is
marked ``partial`` (it is not over).

Searches: a ``search`` event per search (the storefront's page script sends one with the
results page's ``request_id``; API clients send the ``request_id`` ``/search`` answered).
A search showed nothing when no impression carries its ``request_id`` (the server logs the
impressions of every results page it serves to a shopper); its click-through is the share
of its searches followed by a click on one of their results.

Example::

    >>> rows = daily_stats(store, days=30)          # doctest: +SKIP
    >>> rows[-1]["date"], rows[-1]["partial"]       # doctest: +SKIP
    ('2026-11-30', True)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from shopsense.domain import EventKind
from shopsense.store.base import MICROS_PER_DAY, EventLog, QueryTotals

_EPOCH = date(1970, 1, 1)


class HasEvents(Protocol):
    @property
    def events(self) -> EventLog: ...


def window(days: int, today: date | None = None) -> list[date]:
    """The last ``days`` UTC calendar days, oldest first, ending today."""
    end = today or datetime.now(UTC).date()
    return [end - timedelta(days=k) for k in range(days - 1, -1, -1)]


def daily_stats(
    store: HasEvents, days: int = 30, today: date | None = None
) -> list[dict[str, Any]]:
    """One row per day of the last ``days`` (see the module doc), oldest first."""
    dates = window(days, today)
    by_day = store.events.counts_by_day()
    empty = dict.fromkeys(EventKind, 0)
    rows = []
    for day in dates:
        counts = {kind.value: n for kind, n in by_day.get((day - _EPOCH).days, empty).items()}
        impressions, views = counts["impression"], counts["view"]
        rows.append(
            {
                "date": day.isoformat(),
                "partial": day == dates[-1],
                "events": sum(counts.values()),
                **counts,
                "ctr": counts["click"] / impressions if impressions else None,
                "conversion": counts["purchase"] / views if views else None,
            }
        )
    return rows


def attributed_ctr(store: HasEvents) -> dict[str, float]:
    """Click-through of served lists: clicks / impressions that carry a ``request_id``."""
    counts = store.events.attributed_counts()
    impressions, clicks = counts[EventKind.IMPRESSION], counts[EventKind.CLICK]
    return {
        "impressions": float(impressions),
        "clicks": float(clicks),
        "ctr": clicks / impressions if impressions else 0.0,
    }


def search_stats(
    store: HasEvents, days: int = 30, limit: int = 20, today: date | None = None
) -> dict[str, Any]:
    """The most searched queries, those that showed nothing, click-through per query and
    overall, over the last ``days`` days."""
    first = window(days, today)[0]
    report = store.events.search_report((first - _EPOCH).days * MICROS_PER_DAY, limit)
    return {
        "since": first.isoformat(),
        "overall": _query_row(report.overall),
        "top": [_query_row(t) for t in report.top],
        "zero_results": [_query_row(t) for t in report.zero_results],
    }


def _query_row(totals: QueryTotals) -> dict[str, Any]:
    searches = totals.searches
    return {
        "query": totals.query,
        "searches": searches,
        "zero_results": totals.zero_results,
        "zero_rate": totals.zero_results / searches if searches else None,
        "clicked": totals.clicked,
        "clicks": totals.clicks,
        "ctr": totals.clicked / searches if searches else None,
    }
