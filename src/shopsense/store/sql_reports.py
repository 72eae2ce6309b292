"""Aggregates over the event log, counted in the database (grouped queries), so the
dashboard and A/B reports stay cheap on millions of events: rows come back per day, per
shopper or per query, never per event."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shopsense.domain import EventKind
from shopsense.store.base import MICROS_PER_DAY, QueryTotals, SearchReport, UserTotals
from shopsense.store.sql_schema import events, reading


def counts_by_day(engine: Engine) -> dict[int, dict[EventKind, int]]:
    day = sa.cast(events.c.timestamp / MICROS_PER_DAY, sa.BigInteger).label("day")
    query = sa.select(day, events.c.kind, sa.func.count()).group_by(day, events.c.kind)
    out: dict[int, dict[EventKind, int]] = {}
    with reading(engine) as conn:
        for number, kind, count in conn.execute(query):
            out.setdefault(int(number), dict.fromkeys(EventKind, 0))[EventKind(kind)] = int(count)
    return dict(sorted(out.items()))


def day_marks(engine: Engine) -> dict[int, tuple[int, int]]:
    day = sa.cast(events.c.timestamp / MICROS_PER_DAY, sa.BigInteger).label("day")
    query = sa.select(day, sa.func.count(), sa.func.max(events.c.seq)).group_by(day)
    with reading(engine) as conn:
        found = {int(number): (int(n), int(last)) for number, n, last in conn.execute(query)}
    return dict(sorted(found.items()))


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


def _since(since_us: int | None) -> list[sa.ColumnElement[bool]]:
    return [] if since_us is None else [events.c.timestamp >= since_us]


def outcomes_by_user(engine: Engine, since_us: int | None = None) -> dict[str, UserTotals]:
    kind = events.c.kind
    price = sa.func.coalesce(events.c.price, 0.0) * sa.func.coalesce(events.c.quantity, 1)
    query = (
        sa.select(
            events.c.user_id,
            sa.func.sum(sa.case((kind == "impression", 1), else_=0)),
            sa.func.sum(sa.case((kind == "click", 1), else_=0)),
            sa.func.sum(sa.case((kind == "purchase", 1), else_=0)),
            sa.func.sum(sa.case((kind == "purchase", price), else_=0.0)),
        )
        .where(*_since(since_us))
        .group_by(events.c.user_id)
    )
    with reading(engine) as conn:
        return {
            str(user): UserTotals(int(i or 0), int(c or 0), int(p or 0), float(r or 0.0))
            for user, i, c, p, r in conn.execute(query)
        }


def search_report(engine: Engine, since_us: int | None = None, limit: int = 20) -> SearchReport:
    """Per query: searches, those no impression answered, those clicked, the clicks."""
    window = _since(since_us)
    searched = (
        sa.select(sa.func.lower(sa.func.trim(events.c.query)).label("query"), events.c.request_id)
        .where(events.c.kind == "search", *window)
        .subquery()
    )
    # request ids of lists that showed products (joined to the searches' request ids)
    shown = (
        sa.select(events.c.request_id)
        .where(events.c.kind == "impression", events.c.request_id.is_not(None), *window)
        .distinct()
        .subquery()
    )
    clicked = (
        sa.select(events.c.request_id, sa.func.count().label("clicks"))
        .where(events.c.kind == "click", events.c.request_id.is_not(None), *window)
        .group_by(events.c.request_id)
        .subquery()
    )
    nothing = sa.and_(searched.c.request_id.is_not(None), shown.c.request_id.is_(None))
    searches = sa.func.count().label("searches")
    zero = sa.func.sum(sa.case((nothing, 1), else_=0)).label("zero")
    columns = (
        searches,
        zero,
        sa.func.sum(sa.case((clicked.c.clicks.is_not(None), 1), else_=0)),
        sa.func.sum(sa.func.coalesce(clicked.c.clicks, 0)),
    )
    joined = searched.outerjoin(shown, shown.c.request_id == searched.c.request_id).outerjoin(
        clicked, clicked.c.request_id == searched.c.request_id
    )
    per_query = sa.select(searched.c.query, *columns).select_from(joined)
    per_query = per_query.group_by(searched.c.query)
    top = per_query.order_by(searches.desc(), searched.c.query).limit(limit)
    empty = per_query.having(zero > 0).order_by(zero.desc(), searched.c.query).limit(limit)
    with reading(engine) as conn:
        overall = conn.execute(sa.select(sa.literal(""), *columns).select_from(joined)).one()
        return SearchReport(
            _totals(overall),
            [_totals(row) for row in conn.execute(top)],
            [_totals(row) for row in conn.execute(empty)],
        )


def _totals(row: sa.Row[Any]) -> QueryTotals:
    query, searches, zero, clicked, clicks = tuple(row)
    return QueryTotals(str(query or ""), int(searches), int(zero or 0), int(clicked or 0),
                       int(clicks or 0))  # fmt: skip
