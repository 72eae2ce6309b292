"""The SQL schema and its plumbing: tables, engines (SQLite in WAL mode, PostgreSQL),
dialect-aware upserts, transactions whose errors say what the database said.

Shared by :mod:`shopsense.store.sql` (the stores) and :mod:`shopsense.store.sql_staging`
(bulk writes through a staging table).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from shopsense.errors import StoreError
from shopsense.store.base import EVENT_COLUMNS

metadata = sa.MetaData()

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.String(256), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("brand", sa.Text),
    sa.Column("price", sa.Float),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("in_stock", sa.Boolean, nullable=False),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # a running server asks every few seconds what changed since (Catalog.changed_since)
    sa.Index("ix_products_updated", "updated_at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(256), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

#: Settings of the store itself (the salt of deletion tombstones).
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: Deleted shoppers, as salted hashes of their ids (never the id itself): applied to every
#: bundle a server or the CLI loads, so a deletion sticks across restarts and old bundles.
forgotten = sa.Table(
    "forgotten",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("at", BigInt, nullable=False),
)

carts = sa.Table(
    "carts",
    metadata,
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("item_id", sa.String(256), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("added", BigInt, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigInt, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(256), nullable=False, unique=True),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("session_id", sa.String(256)),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("item_id", sa.String(256)),
    sa.Column("query", sa.Text),
    sa.Column("request_id", sa.String(256)),
    sa.Column("position", sa.Integer),
    sa.Column("propensity", sa.Float),
    sa.Column("quantity", sa.Integer),
    sa.Column("price", sa.Float),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_events_user_time", "user_id", "timestamp"),
)


#: Rows of :data:`EVENT_COLUMNS` as one JSON array of arrays (``value ->> k`` gives the
#: k-th column with its SQL type); ``WHERE true`` keeps ``ON CONFLICT`` from parsing as
#: part of the SELECT.
SQLITE_INSERT_EVENTS_JSON = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"SELECT {', '.join(f'value ->> {k}' for k in range(len(EVENT_COLUMNS)))} "
    "FROM json_each(?) WHERE true ON CONFLICT (event_id) DO NOTHING"
)

SQLITE_INSERT_USERS = "INSERT INTO users (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"


def now_micros() -> int:
    return time.time_ns() // 1_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted rows are overwritten, not left readable in free pages (privacy deletions).
    cursor.execute("PRAGMA secure_delete=ON")
    # A larger page cache keeps the event indexes in memory during bulk ingests.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and their folder is created."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if not path or path == ":memory:":
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def upsert_into(engine_or_conn: Engine | Connection, table: sa.Table) -> Any:
    name = engine_or_conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise StoreError(f"unsupported database {name!r}; use SQLite or PostgreSQL")


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """One write transaction: on a new connection of an engine, or on the connection
    given (a bulk ingest's own); a failure is a one-line :class:`StoreError`."""
    try:
        if isinstance(bind, Connection):
            with bind.begin():
                yield bind
        else:
            with bind.begin() as conn:
                yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"database write failed, nothing was stored: {db_reason(exc)}") from exc


#: What a lost or refused database connection says (its text names hosts and ports).
_UNREACHABLE = re.compile(
    r"connection (failed|refused|to server)|server closed the connection|could not connect"
    r"|connection is closed|terminating connection",
    re.IGNORECASE,
)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; a failure (the database away, a lock) is a
    :class:`StoreError` the API answers with 503, not an unhandled driver error."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"database read failed: {db_reason(exc)}") from exc


def db_reason(exc: SQLAlchemyError) -> str:
    """The database's own one-line reason ("database is locked"), without the statement
    or its parameters (they hold the request's values; the log keeps the whole error),
    and without connection details when the database cannot be reached."""
    original = getattr(exc, "orig", None)
    if getattr(exc, "connection_invalidated", False) or _UNREACHABLE.search(str(original)):
        return "the database cannot be reached (connection lost or refused)"
    text = str(original) if original is not None else type(exc).__name__
    return (text.strip().splitlines() or [type(exc).__name__])[0][:200]


def add_missing_columns(engine: Engine) -> None:
    """Bring a database made by an older version up to date (nullable columns only).

    ``create_all`` creates missing tables but never alters existing ones; columns added
    since (``events.propensity``) and indexes are added here, so old data stays readable.
    """
    inspector = sa.inspect(engine)
    for table in (products, users, events):
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise StoreError(
                    f"the database lacks the required column {table.name}.{column.name}; "
                    "it was made by an incompatible version"
                )
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
        with engine.begin() as conn:  # indexes added since (create_all skips old tables)
            for index in table.indexes:
                index.create(conn, checkfirst=True)
