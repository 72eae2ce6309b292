"""Shop analytics for the dashboard: event volumes, click-through and conversion per day.

Counted by the store (one grouped query each on SQL), so it stays cheap on millions of
events. Click-through is clicks / impressions; conversion is purchases / views.

Example::

    >>> rows = daily_stats(store, days=30)          # doctest: +SKIP
    >>> rows[-1]["ctr"], rows[-1]["conversion"]     # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from shopsense.domain import EventKind
from shopsense.store.base import EventLog, UserTotals


class HasEvents(Protocol):
    @property
    def events(self) -> EventLog: ...


def daily_stats(store: HasEvents, days: int = 30) -> list[dict[str, Any]]:
    """One row per day with events, the last ``days`` days that have any, oldest first."""
    by_day = store.events.counts_by_day()
    rows = []
    for number in sorted(by_day)[-days:]:
        counts = {kind.value: n for kind, n in by_day[number].items()}
        date = datetime.fromtimestamp(number * 86_400, tz=UTC).date().isoformat()
        impressions, clicks = counts["impression"], counts["click"]
        views, purchases = counts["view"], counts["purchase"]
        rows.append(
            {
                "date": date,
                "events": sum(counts.values()),
                **counts,
                "ctr": clicks / impressions if impressions else 0.0,
                "conversion": purchases / views if views else 0.0,
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


def user_outcomes(store: HasEvents) -> dict[str, UserTotals]:
    """Per shopper: impressions, clicks, purchases and revenue (price x quantity)."""
    return store.events.outcomes_by_user()
