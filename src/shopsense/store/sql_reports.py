"""Aggregates over the event log, counted in the database (one grouped query each), so
the dashboard and A/B reports stay cheap on millions of events."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shopsense.domain import EventKind
from shopsense.store.base import UserTotals
from shopsense.store.sql_schema import events, reading

MICROS_PER_DAY = 86_400 * 1_000_000


def counts_by_day(engine: Engine) -> dict[int, dict[EventKind, int]]:
    day = sa.cast(events.c.timestamp / MICROS_PER_DAY, sa.BigInteger).label("day")
    query = sa.select(day, events.c.kind, sa.func.count()).group_by(day, events.c.kind)
    out: dict[int, dict[EventKind, int]] = {}
    with reading(engine) as conn:
        for number, kind, count in conn.execute(query):
            out.setdefault(int(number), dict.fromkeys(EventKind, 0))[EventKind(kind)] = int(count)
    return dict(sorted(out.items()))


def attributed_counts(engine: Engine) -> dict[EventKind, int]:
    query = (
        sa.select(events.c.kind, sa.func.count())
        .where(events.c.request_id.is_not(None))
        .group_by(events.c.kind)
    )
    counts = dict.fromkeys(EventKind, 0)
    with reading(engine) as conn:
        counts.update({EventKind(kind): int(n) for kind, n in conn.execute(query)})
    return counts


def outcomes_by_user(engine: Engine) -> dict[str, UserTotals]:
    kind = events.c.kind
    price = sa.func.coalesce(events.c.price, 0.0) * sa.func.coalesce(events.c.quantity, 1)
    query = sa.select(
        events.c.user_id,
        sa.func.sum(sa.case((kind == "impression", 1), else_=0)),
        sa.func.sum(sa.case((kind == "click", 1), else_=0)),
        sa.func.sum(sa.case((kind == "purchase", 1), else_=0)),
        sa.func.sum(sa.case((kind == "purchase", price), else_=0.0)),
    ).group_by(events.c.user_id)
    with reading(engine) as conn:
        return {
            str(user): UserTotals(int(i or 0), int(c or 0), int(p or 0), float(r or 0.0))
            for user, i, c, p, r in conn.execute(query)
        }
