"""SQL backend through SQLAlchemy Core: SQLite (default, WAL mode) or PostgreSQL by URL.

Example::

    >>> from shopsense.store.sql import SqlStore
    >>> store = SqlStore("sqlite://")          # in-memory database
    >>> store.events.count()
    0
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from shopsense.domain import CATEGORY_SEPARATOR, Event, EventKind, Product
from shopsense.errors import StoreError
from shopsense.limits import MAX_INT32
from shopsense.store import sql_reports
from shopsense.store.base import (
    EVENT_COLUMNS,
    Appended,
    EventBatch,
    SearchReport,
    UserTotals,
    event_from_row,
    event_row,
    from_micros,
    same_event,
    to_micros,
    tombstone_digest,
)
from shopsense.store.sql_schema import (
    SQLITE_INSERT_EVENTS_JSON,
    SQLITE_INSERT_USERS,
    add_missing_columns,
    carts,
    create_engine,
    events,
    forgotten,
    meta,
    metadata,
    now_micros,
    products,
    reading,
    transaction,
    upsert_into,
    users,
)
from shopsense.store.sql_staging import SqlStagedEvents, drop_leftovers, staged_events

log = logging.getLogger(__name__)

#: The columns of :class:`Appended`, in its order.
_APPENDED_COLUMNS = ("seq", "event_id", "user_id", "item_id", "kind", "session_id", "timestamp")


def _product_row(product: Product, now: int) -> dict[str, Any]:
    return {
        "id": product.id,
        "title": product.title,
        "description": product.description,
        "category": product.category_path,
        "brand": product.brand,
        "price": product.price,
        "currency": product.currency,
        "in_stock": product.in_stock,
        "attributes": json.dumps(product.attributes, separators=(",", ":"), sort_keys=True),
        "created_at": to_micros(product.created_at) if product.created_at else now,
        "updated_at": now,
    }


def _product_from_row(row: Any) -> Product:
    return Product.model_construct(
        id=row.id,
        title=row.title,
        description=row.description,
        category=tuple(row.category.split(CATEGORY_SEPARATOR)) if row.category else (),
        brand=row.brand,
        price=row.price,
        currency=row.currency,
        in_stock=bool(row.in_stock),
        attributes=json.loads(row.attributes),
        created_at=from_micros(row.created_at),
    )


#: Where the shopper is in a row of :data:`EVENT_COLUMNS`.
_USER = EVENT_COLUMNS.index("user_id")


class _SqlCatalogWriter:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def upsert(self, batch: Sequence[Product]) -> None:
        if not batch:
            return
        # One statement may not touch a row twice (PostgreSQL): the last version of an id wins.
        batch = list({p.id: p for p in batch}.values())
        now = now_micros()
        # Rows that give created_at overwrite it; the others keep the stored one.
        with_created = [_product_row(p, now) for p in batch if p.created_at is not None]
        without_created = [_product_row(p, now) for p in batch if p.created_at is None]
        for rows, keep in ((with_created, False), (without_created, True)):
            if not rows:
                continue
            stmt = upsert_into(self._conn, products)
            updated = {
                c.name: stmt.excluded[c.name]
                for c in products.columns
                if c.name != "id" and not (keep and c.name == "created_at")
            }
            self._conn.execute(
                stmt.on_conflict_do_update(index_elements=["id"], set_=updated), rows
            )


class _SqlEventWriter:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def conflicts(self, batch: Sequence[Event]) -> list[int]:
        columns = [events.c[name] for name in EVENT_COLUMNS]
        stored: dict[str, tuple[object, ...]] = {}
        ids = list({e.event_id for e in batch})
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            query = sa.select(*columns).where(events.c.event_id.in_(part))
            stored.update((str(row[0]), tuple(row)) for row in self._conn.execute(query))
        return [
            i
            for i, event in enumerate(batch)
            if event.event_id in stored and not same_event(stored[event.event_id], event)
        ]

    def append(self, batch: Sequence[Event]) -> int:
        return self.append_rows([event_row(e) for e in batch])

    def append_rows(self, rows: Sequence[Sequence[object]]) -> int:
        if not rows:
            return 0
        if self._conn.dialect.name == "sqlite":
            # The rows go in as one JSON text and one statement: the driver steps once, where
            # a row at a time released and retook the GIL per row, stalling a serving
            # thread at every one (and SQLAlchemy's dict per row halved ingest throughput).
            result = self._conn.exec_driver_sql(
                SQLITE_INSERT_EVENTS_JSON, (json.dumps(rows, separators=(",", ":")),)
            )
            inserted = int(result.rowcount)
        else:
            # Other drivers batch rows into multi-row statements whose rowcount is unknown:
            # count the rows the database reports back as inserted.
            dicts = [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in rows]
            stmt = upsert_into(self._conn, events).on_conflict_do_nothing(
                index_elements=["event_id"]
            )
            inserted = len(self._conn.execute(stmt.returning(events.c.seq), dicts).all())
        now = now_micros()
        new_users = {str(row[_USER]) for row in rows}
        if self._conn.dialect.name == "sqlite":
            self._conn.exec_driver_sql(SQLITE_INSERT_USERS, [(u, now) for u in new_users])
        else:
            self._conn.execute(
                upsert_into(self._conn, users).on_conflict_do_nothing(index_elements=["id"]),
                [{"id": u, "created_at": now} for u in new_users],
            )
        return inserted


class SqlCatalog:
    """:class:`shopsense.store.base.Catalog` on a SQL database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def writer(self) -> Iterator[_SqlCatalogWriter]:
        with transaction(self._engine) as conn:
            yield _SqlCatalogWriter(conn)

    def upsert(self, batch: Sequence[Product]) -> None:
        with self.writer() as writer:
            writer.upsert(batch)

    def get(self, product_id: str) -> Product | None:
        found = self.get_many([product_id])
        return found[0] if found else None

    def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        by_id: dict[str, Product] = {}
        ids = list(dict.fromkeys(product_ids))
        with reading(self._engine) as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for row in conn.execute(sa.select(products).where(products.c.id.in_(chunk))):
                    by_id[row.id] = _product_from_row(row)
        return [by_id[i] for i in product_ids if i in by_id]

    def ids(self) -> set[str]:
        with reading(self._engine) as conn:
            return set(conn.execute(sa.select(products.c.id)).scalars())

    def count(self) -> int:
        with reading(self._engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(products)).scalar_one())

    def iter_products(self, batch_size: int = 10_000) -> Iterator[list[Product]]:
        with reading(self._engine) as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                sa.select(products).order_by(products.c.id)
            )
            for part in result.partitions():
                yield [_product_from_row(row) for row in part]

    def delete(self, product_ids: Sequence[str]) -> int:
        with transaction(self._engine) as conn:
            result = conn.execute(sa.delete(products).where(products.c.id.in_(product_ids)))
            return int(result.rowcount)

    def changed_since(self, since_us: int) -> tuple[list[Product], int]:
        query = (
            sa.select(products, products.c.updated_at.label("changed"))
            .where(products.c.updated_at > since_us)
            .order_by(products.c.updated_at)
        )
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        latest = max([since_us, *(int(row.changed) for row in rows)])
        return [_product_from_row(row) for row in rows], latest


class SqlEventLog:
    """:class:`shopsense.store.base.EventLog` on a SQL database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._salt_value: str | None = None

    @contextmanager
    def writer(self) -> Iterator[_SqlEventWriter]:
        with transaction(self._engine) as conn:
            yield _SqlEventWriter(conn)

    def append(self, batch: Sequence[Event]) -> int:
        with self.writer() as writer:
            return writer.append(batch)

    def append_rows(self, rows: Sequence[Sequence[object]]) -> int:
        with self.writer() as writer:
            return writer.append_rows(rows)

    def count(self) -> int:
        with reading(self._engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def count_by_kind(self) -> dict[EventKind, int]:
        counts = dict.fromkeys(EventKind, 0)
        with reading(self._engine) as conn:
            query = sa.select(events.c.kind, sa.func.count()).group_by(events.c.kind)
            for kind, n in conn.execute(query):
                counts[EventKind(kind)] = int(n)
        return counts

    def user_count(self) -> int:
        with reading(self._engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def iter_batches(
        self, batch_size: int = 100_000, since_us: int | None = None
    ) -> Iterator[EventBatch]:
        columns = [events.c[name] for name in EVENT_COLUMNS]
        query = sa.select(*columns).order_by(events.c.seq)
        if since_us is not None:
            query = query.where(events.c.timestamp >= since_us)
        with reading(self._engine) as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                query
            )
            for part in result.partitions():
                yield EventBatch.from_rows(part)

    def user_history(
        self, user_id: str, limit: int = 100, kinds: Sequence[EventKind] | None = None
    ) -> list[Event]:
        columns = [events.c[name] for name in EVENT_COLUMNS]
        where = [events.c.user_id == user_id]
        if kinds is not None:  # one indexed query: impressions are not read to be dropped
            where.append(events.c.kind.in_([k.value for k in kinds]))
        query = (
            sa.select(*columns)
            .where(*where)
            .order_by(events.c.timestamp.desc(), events.c.seq.desc())
            .limit(limit)
        )
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        return [event_from_row(row) for row in reversed(rows)]

    def counts_by_day(self) -> dict[int, dict[EventKind, int]]:
        return sql_reports.counts_by_day(self._engine)

    def day_marks(self) -> dict[int, tuple[int, int]]:
        return sql_reports.day_marks(self._engine)

    def attributed_counts(self) -> dict[EventKind, int]:
        return sql_reports.attributed_counts(self._engine)

    def outcomes_by_user(self, since_us: int | None = None) -> dict[str, UserTotals]:
        return sql_reports.outcomes_by_user(self._engine, since_us)

    def search_report(self, since_us: int | None = None, limit: int = 20) -> SearchReport:
        return sql_reports.search_report(self._engine, since_us, limit)

    def delete_user(self, user_id: str) -> int:
        digest = self.digest(user_id)
        with transaction(self._engine) as conn:
            result = conn.execute(sa.delete(events).where(events.c.user_id == user_id))
            conn.execute(sa.delete(users).where(users.c.id == user_id))
            conn.execute(sa.delete(carts).where(carts.c.user_id == user_id))
            tombstone = upsert_into(conn, forgotten).on_conflict_do_nothing(
                index_elements=["digest"]
            )
            conn.execute(tombstone, [{"digest": digest, "at": now_micros()}])
            removed = int(result.rowcount)
        if self._engine.dialect.name == "sqlite":
            # The deleted rows also leave the write-ahead log (secure_delete zeroes them in
            # the database file itself).
            with reading(self._engine) as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif self._engine.dialect.name == "postgresql":
            self._vacuum_deleted()
        return removed

    def _vacuum_deleted(self) -> None:
        """PostgreSQL keeps deleted rows as dead tuples until a VACUUM reclaims them: run
        it now on the tables a deletion touches (outside a transaction, as VACUUM must).
        The deletion itself is committed already, so a failed VACUUM only waits for
        autovacuum, and says so."""
        try:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM events, users, carts")
        except SQLAlchemyError as exc:
            log.warning("VACUUM after a deletion failed (autovacuum will reclaim): %s", exc)

    def staged(self) -> AbstractContextManager[SqlStagedEvents]:
        return staged_events(self._engine)

    def digest(self, user_id: str) -> str:
        return tombstone_digest(self._salt(), user_id)

    def last_seq(self) -> int:
        with reading(self._engine) as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.seq))).scalar_one() or 0)

    def appended_since(
        self, after: int, also: Sequence[int] = (), limit: int = 10_000
    ) -> list[Appended]:
        where = events.c.seq > after
        if also:
            where = sa.or_(where, events.c.seq.in_(list(also)))
        query = (
            sa.select(*(events.c[name] for name in _APPENDED_COLUMNS))
            .where(where)
            .order_by(events.c.seq)
            .limit(limit)
        )
        with reading(self._engine) as conn:
            rows = conn.execute(query).all()
        return [
            Appended(int(seq), event, user, item, EventKind(kind), session, from_micros(ts))
            for seq, event, user, item, kind, session, ts in rows
        ]

    def forgotten(self) -> frozenset[str]:
        with reading(self._engine) as conn:
            return frozenset(str(d) for d in conn.execute(sa.select(forgotten.c.digest)).scalars())

    def _salt(self) -> str:
        """This store's random salt of tombstones, made on first use (by any process)."""
        if self._salt_value is None:
            key = meta.c.key == "forget_salt"
            with transaction(self._engine) as conn:
                row = {"key": "forget_salt", "value": secrets.token_hex(16)}
                made = upsert_into(conn, meta).on_conflict_do_nothing(index_elements=["key"])
                conn.execute(made, [row])  # another process may have made it first
                value = conn.execute(sa.select(meta.c.value).where(key)).scalar_one()
                self._salt_value = str(value)
        return self._salt_value


class SqlCarts:
    """:class:`~shopsense.store.base.Carts` in the ``carts`` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, user_id: str) -> dict[str, int]:
        query = (
            sa.select(carts.c.item_id, carts.c.quantity)
            .where(carts.c.user_id == user_id)
            .order_by(carts.c.added, carts.c.item_id)
        )
        with reading(self._engine) as conn:
            return {str(item): int(quantity) for item, quantity in conn.execute(query)}

    def add(self, user_id: str, item_id: str, quantity: int = 1) -> None:
        line = (carts.c.user_id == user_id) & (carts.c.item_id == item_id)
        with transaction(self._engine) as conn:
            old = conn.execute(sa.select(carts.c.quantity).where(line)).scalar()
            if old is None:
                row = {"user_id": user_id, "item_id": item_id, "quantity": quantity,
                       "added": time.time_ns() // 1000}  # fmt: skip
                conn.execute(sa.insert(carts).values(**row))
            else:
                total = min(int(old) + quantity, MAX_INT32)
                conn.execute(sa.update(carts).where(line).values(quantity=total))

    def set(self, user_id: str, item_id: str, quantity: int) -> None:
        line = (carts.c.user_id == user_id) & (carts.c.item_id == item_id)
        with transaction(self._engine) as conn:
            if quantity <= 0:
                conn.execute(sa.delete(carts).where(line))
            elif conn.execute(sa.update(carts).where(line).values(quantity=quantity)).rowcount == 0:
                row = {"user_id": user_id, "item_id": item_id, "quantity": quantity,
                       "added": time.time_ns() // 1000}  # fmt: skip
                conn.execute(sa.insert(carts).values(**row))

    def take(self, user_id: str) -> dict[str, int]:
        with transaction(self._engine) as conn:
            rows = conn.execute(
                sa.select(carts.c.item_id, carts.c.quantity)
                .where(carts.c.user_id == user_id)
                .order_by(carts.c.added, carts.c.item_id)
            ).all()
            conn.execute(sa.delete(carts).where(carts.c.user_id == user_id))
        return {str(item): int(quantity) for item, quantity in rows}


class SqlStore:
    """The catalog and the event log on one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = create_engine(url)
            metadata.create_all(self.engine)
            add_missing_columns(self.engine)
            drop_leftovers(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the database at {url}: {exc}") from exc
        self.catalog = SqlCatalog(self.engine)
        self.events = SqlEventLog(self.engine)
        self.carts = SqlCarts(self.engine)

    def close(self) -> None:
        self.engine.dispose()
