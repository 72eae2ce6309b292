"""Shop analytics for the dashboard: event volumes, click-through and conversion per day.

Counted in the database (one grouped query), so it stays cheap on millions of events.
Click-through is clicks / impressions; conversion is purchases / views.

Example::

    >>> rows = daily_stats(store, days=30)          # doctest: +SKIP
    >>> rows[-1]["ctr"], rows[-1]["conversion"]     # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shopsense.domain import EventKind
from shopsense.store import SqlStore
from shopsense.store.sql_schema import events as events_table

MICROS_PER_DAY = 86_400 * 1_000_000


def daily_stats(store: SqlStore, days: int = 30) -> list[dict[str, Any]]:
    """One row per day with events, the last ``days`` days that have any, oldest first."""
    day = sa.cast(events_table.c.timestamp / MICROS_PER_DAY, sa.BigInteger).label("day")
    query = (
        sa.select(day, events_table.c.kind, sa.func.count())
        .group_by(day, events_table.c.kind)
        .order_by(day)
    )
    by_day: dict[int, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for number, kind, count in conn.execute(query):
            by_day.setdefault(int(number), dict.fromkeys((k.value for k in EventKind), 0))[
                str(kind)
            ] = int(count)
    rows = []
    for number in sorted(by_day)[-days:]:
        counts = by_day[number]
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


def attributed_ctr(store: SqlStore) -> dict[str, float]:
    """Click-through of served lists: clicks / impressions that carry a ``request_id``."""
    query = (
        sa.select(events_table.c.kind, sa.func.count())
        .where(events_table.c.request_id.is_not(None))
        .group_by(events_table.c.kind)
    )
    with store.engine.connect() as conn:
        counts = {str(kind): int(n) for kind, n in conn.execute(query)}
    impressions = counts.get("impression", 0)
    return {
        "impressions": float(impressions),
        "clicks": float(counts.get("click", 0)),
        "ctr": counts.get("click", 0) / impressions if impressions else 0.0,
    }


def user_outcomes(store: SqlStore) -> dict[str, dict[str, float]]:
    """Per shopper: impressions, clicks, purchases and revenue (price x quantity)."""
    kind = events_table.c.kind
    price = sa.func.coalesce(events_table.c.price, 0.0) * sa.func.coalesce(
        events_table.c.quantity, 1
    )
    query = sa.select(
        events_table.c.user_id,
        sa.func.sum(sa.case((kind == "impression", 1), else_=0)),
        sa.func.sum(sa.case((kind == "click", 1), else_=0)),
        sa.func.sum(sa.case((kind == "purchase", 1), else_=0)),
        sa.func.sum(sa.case((kind == "purchase", price), else_=0.0)),
    ).group_by(events_table.c.user_id)
    with store.engine.connect() as conn:
        return {
            str(user): {
                "impressions": float(i or 0),
                "clicks": float(c or 0),
                "purchases": float(p or 0),
                "revenue": float(r or 0.0),
            }
            for user, i, c, p, r in conn.execute(query)
        }
