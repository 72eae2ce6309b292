"""Bulk event writes that never hold the write lock for long: a staging table.

A file's events go first into a staging table of the ingest's own connection: for a SQLite
file, a table in a database file of its own beside it (attached, without a journal: it is
thrown away); for PostgreSQL (and in-memory SQLite) a temporary table. Nothing reaches the
event log while the file is read and checked, so a file refused by validation leaves no
trace, and staging takes no lock on the log. Once it passes, the staged rows move into the
log in chunks (one short transaction each, ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``), so the server's own writes wait at most one chunk. A process killed while
moving leaves a prefix of the file stored; running the same ingest again stores exactly
the rest (event ids are idempotent).

The staging table gets its ``event_id`` index once it is filled, not row by row, and rows
reach PostgreSQL by ``COPY``. Staging files or tables a killed process left behind are
removed when a store opens (:func:`drop_leftovers`).

Example::

    >>> from shopsense.store import SqlStore
    >>> from factories import event                                    # doctest: +SKIP
    >>> store = SqlStore("sqlite://")
    >>> with store.events.staged() as staged:                          # doctest: +SKIP
    ...     staged.add([(1, event(1))])
    ...     staged.conflicts(), staged.commit()
    ([], 1)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from shopsense.domain import Event
from shopsense.errors import StoreError
from shopsense.store.base import EVENT_COLUMNS, event_row
from shopsense.store.sql_schema import (
    BigInt,
    db_reason,
    events,
    now_micros,
    transaction,
    upsert_into,
    users,
)

PREFIX = "staging_"
#: Rows moved into the event log per transaction (the longest a server write waits).
CHUNK = 20_000
#: Storage rows staged per statement (bounds the driver's parameter lists).
ADD_CHUNK = 50_000


class SqlStagedEvents:
    """Events staged for one bulk write on one connection; see the module docstring."""

    def __init__(self, conn: Connection, database: str | None = None) -> None:
        self._conn = conn
        columns = [sa.Column("row", BigInt, primary_key=True, autoincrement=False)]
        columns += [
            sa.Column(c.name, c.type, nullable=c.nullable)
            for c in events.columns
            if c.name != "seq"
        ]
        name = database or staging_name()
        prefixes = [] if database else ["TEMPORARY"]
        self.table = sa.Table(name, sa.MetaData(), *columns, schema=database, prefixes=prefixes)
        #: The table as SQL names it (in the attached database, or temporary).
        self.sql_name = f'"{database}"."{name}"' if database else f'"{name}"'
        self._database = database
        self._indexed = False
        self.staged = 0
        self._last_row = 0

    def _step(self) -> AbstractContextManager[Connection]:
        """One short transaction on the staging connection."""
        return transaction(self._conn)

    def create(self) -> None:
        with self._step() as conn:
            self.table.create(conn)

    def add(self, rows: Sequence[tuple[int, Event]]) -> None:
        """Stage ``(row number, event)`` pairs (row numbers: the file's rows)."""
        self.add_rows([(row, *event_row(event)) for row, event in rows])

    def add_rows(self, rows: Sequence[tuple[object, ...]]) -> None:
        """Stage storage rows: ``(row number, *values in EVENT_COLUMNS order)``, values as
        :func:`~shopsense.store.base.event_row` gives them (already validated)."""
        if not rows:
            return
        keys = ("row", *EVENT_COLUMNS)
        names = ", ".join(f'"{n}"' for n in keys)
        with self._step() as conn:
            for start in range(0, len(rows), ADD_CHUNK):
                part = list(rows[start : start + ADD_CHUNK])
                if conn.dialect.name == "sqlite":
                    # Tuples straight to the driver: SQLAlchemy's per-row dicts halve the
                    # rate (benchmarks/ingest_throughput.py).
                    marks = ", ".join("?" for _ in keys)
                    insert = f"INSERT INTO {self.sql_name} ({names}) VALUES ({marks})"
                    conn.exec_driver_sql(insert, part)
                else:  # PostgreSQL: COPY, row tuples straight to psycopg
                    raw: Any = conn.connection.driver_connection
                    copy_in = f"COPY {self.sql_name} ({names}) FROM STDIN"
                    with raw.cursor() as cursor, cursor.copy(copy_in) as copy:
                        for row in part:
                            copy.write_row(row)
        self.staged += len(rows)
        self._last_row = max(self._last_row, max(int(r[0]) for r in rows))  # type: ignore[call-overload]

    def _ready(self) -> None:
        """The ``event_id`` index, built once the rows are in (cheaper than row by row)."""
        if not self._indexed:
            name = self.table.name
            index = f'"{self._database}"."ix_{name}"' if self._database else f'"ix_{name}"'
            with self._step() as conn:
                conn.exec_driver_sql(f'CREATE INDEX {index} ON "{name}" (event_id)')
            self._indexed = True

    def conflicts(self) -> list[tuple[int, str]]:
        """``(row, event_id)`` of staged events whose id the log (or an earlier staged row)
        holds for a different event (every field but the timestamp compared)."""
        self._ready()
        s = self.table
        compared = list(EVENT_COLUMNS[1:-1])  # event_id aside (equal), timestamp aside

        def differs(other: sa.FromClause) -> sa.ColumnElement[bool]:
            same = [other.c[name].is_not_distinct_from(s.c[name]) for name in compared]
            return sa.not_(sa.and_(*same))

        earlier = s.alias("earlier")
        in_log = (
            sa.select(s.c.row, s.c.event_id)
            .join(events, events.c.event_id == s.c.event_id)
            .where(differs(events))
        )
        in_file = (
            sa.select(s.c.row, s.c.event_id)
            .join(earlier, sa.and_(earlier.c.event_id == s.c.event_id, earlier.c.row < s.c.row))
            .where(differs(earlier))
        )
        with self._step() as conn:
            found = {(int(r), str(i)) for r, i in conn.execute(in_log)}
            found |= {(int(r), str(i)) for r, i in conn.execute(in_file)}
        return sorted(found)

    def drop(self, rows: Sequence[int]) -> None:
        """Leave these rows out of the commit (refused ones, under ``--skip-invalid``)."""
        with self._step() as conn:
            for start in range(0, len(rows), 500):
                conn.execute(
                    sa.delete(self.table).where(self.table.c.row.in_(rows[start : start + 500]))
                )
        self.staged -= len(set(rows))

    def commit(self, chunk: int = CHUNK) -> int:
        """Move the staged events into the log, ``chunk`` rows per transaction; returns how
        many were new (the others were stored already)."""
        self._ready()
        s = self.table
        names = list(EVENT_COLUMNS)
        stored = 0
        low = 0
        while low < self._last_row:
            high = low + chunk
            window = sa.and_(s.c.row > low, s.c.row <= high)
            with self._step() as conn:
                picked = sa.select(*[s.c[n] for n in names]).where(window).order_by(s.c.row)
                insert = upsert_into(conn, events).from_select(names, picked)
                insert = insert.on_conflict_do_nothing(index_elements=["event_id"])
                if conn.dialect.name == "sqlite":
                    stored += max(int(conn.execute(insert).rowcount), 0)
                else:  # PostgreSQL reports no row count here: count what comes back
                    stored += len(conn.execute(insert.returning(events.c.seq)).all())
                people = sa.select(s.c.user_id, sa.literal(now_micros())).where(window).distinct()
                add = upsert_into(conn, users).from_select(["id", "created_at"], people)
                conn.execute(add.on_conflict_do_nothing(index_elements=["id"]))
            low = high
        return stored


def staging_name() -> str:
    return f"{PREFIX}{int(time.time())}_{secrets.token_hex(4)}"


def staging_folder(engine: Engine) -> Path | None:
    """Where a SQLite file database stages: a file of its own in the database's folder
    (on the disk that holds the data, not in a temporary folder that may be small)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).resolve().parent


@contextmanager
def staged_events(engine: Engine) -> Iterator[SqlStagedEvents]:
    """A staging table on a connection of its own, gone afterwards whatever happens:
    SQLite files stage in a database file attached beside them (no journal: it is thrown
    away), others in a temporary table."""
    folder = staging_folder(engine)
    database = staging_name() if folder is not None else None
    file = folder / f"{database}.db" if folder is not None else None
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        raise StoreError(f"database write failed, nothing was stored: {db_reason(exc)}") from exc
    try:
        if file is not None:
            with transaction(conn):  # SQLite runs these outside any transaction of its own
                conn.exec_driver_sql(f'ATTACH DATABASE ? AS "{database}"', (str(file),))
                conn.exec_driver_sql(f'PRAGMA "{database}".journal_mode=OFF')
                conn.exec_driver_sql(f'PRAGMA "{database}".synchronous=OFF')
        staged = SqlStagedEvents(conn, database)
        staged.create()
        try:
            yield staged
        finally:
            try:
                with transaction(conn):
                    staged.table.drop(conn, checkfirst=False)
                if file is not None:
                    with transaction(conn):
                        conn.exec_driver_sql(f'DETACH DATABASE "{database}"')
            except StoreError:
                conn.invalidate()  # a temporary table goes with the connection
    finally:
        conn.close()
        if file is not None:
            file.unlink(missing_ok=True)


def drop_leftovers(engine: Engine, older_than_s: float = 86_400.0) -> None:
    """Remove what a killed process left: staging files beside a SQLite database, and
    staging tables that versions before kept in the database itself (older than
    ``older_than_s``: one being filled is young)."""
    oldest = time.time() - older_than_s
    names = [
        n
        for n in sa.inspect(engine).get_table_names()
        if n.startswith(PREFIX) and n.split("_")[1].isdigit() and int(n.split("_")[1]) < oldest
    ]
    with transaction(engine) as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    folder = staging_folder(engine)
    for file in folder.glob(f"{PREFIX}*.db") if folder is not None else ():
        if file.stat().st_mtime < oldest:
            file.unlink(missing_ok=True)
