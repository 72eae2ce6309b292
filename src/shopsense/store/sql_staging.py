"""Bulk event writes that never hold the write lock for long: a staging table.

A file's events go first into a table of their own (``staging_<random>``), one short
transaction per batch; nothing reaches the event log while the file is read and checked,
so a file refused by validation leaves no trace. Once it passes, the staged rows move into
the log in chunks (one short transaction each, ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``), so the server's own writes wait at most one chunk. A process killed while
moving leaves a prefix of the file stored; running the same ingest again stores exactly
the rest (event ids are idempotent). Staging tables left by a killed process are dropped
when a store opens.

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
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shopsense.domain import Event
from shopsense.store.base import EVENT_COLUMNS, event_row
from shopsense.store.sql_schema import events, now_micros, transaction, upsert_into, users

PREFIX = "staging_"
#: Rows moved into the event log per transaction (the longest a server write waits).
CHUNK = 20_000


class SqlStagedEvents:
    """Events staged for one bulk write; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        columns = [sa.Column("row", sa.BigInteger, primary_key=True, autoincrement=False)]
        columns += [
            sa.Column(c.name, c.type, nullable=c.nullable)
            for c in events.columns
            if c.name != "seq"
        ]
        name = f"{PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
        self.table = sa.Table(name, sa.MetaData(), *columns, sa.Index(f"ix_{name}", "event_id"))
        self.staged = 0
        self._last_row = 0

    def add(self, rows: Sequence[tuple[int, Event]]) -> None:
        """Stage ``(row number, event)`` pairs (row numbers increase: the file's rows)."""
        if not rows:
            return
        tuples = [(row, *event_row(event)) for row, event in rows]
        with transaction(self._engine) as conn:
            if conn.dialect.name == "sqlite":
                # Tuples straight to the driver: SQLAlchemy's per-row dicts halve the rate
                # (benchmarks/ingest_throughput.py).
                names = ", ".join(("row", *EVENT_COLUMNS))
                marks = ", ".join("?" for _ in tuples[0])
                insert = f'INSERT INTO "{self.table.name}" ({names}) VALUES ({marks})'
                conn.exec_driver_sql(insert, tuples)
            else:
                keys = ("row", *EVENT_COLUMNS)
                values = [dict(zip(keys, t, strict=True)) for t in tuples]
                conn.execute(sa.insert(self.table), values)
        self.staged += len(rows)
        self._last_row = max(self._last_row, rows[-1][0])

    def conflicts(self) -> list[tuple[int, str]]:
        """``(row, event_id)`` of staged events whose id the log (or an earlier staged row)
        holds for a different event (every field but the timestamp compared)."""
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
        with self._engine.connect() as conn:
            found = {(int(r), str(i)) for r, i in conn.execute(in_log)}
            found |= {(int(r), str(i)) for r, i in conn.execute(in_file)}
        return sorted(found)

    def drop(self, rows: Sequence[int]) -> None:
        """Leave these rows out of the commit (refused ones, under ``--skip-invalid``)."""
        with transaction(self._engine) as conn:
            for start in range(0, len(rows), 500):
                conn.execute(
                    sa.delete(self.table).where(self.table.c.row.in_(rows[start : start + 500]))
                )
        self.staged -= len(set(rows))

    def commit(self, chunk: int = CHUNK) -> int:
        """Move the staged events into the log, ``chunk`` rows per transaction; returns how
        many were new (the others were stored already)."""
        s = self.table
        names = list(EVENT_COLUMNS)
        stored = 0
        low = 0
        while low < self._last_row:
            high = low + chunk
            window = sa.and_(s.c.row > low, s.c.row <= high)
            with transaction(self._engine) as conn:
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


@contextmanager
def staged_events(engine: Engine) -> Iterator[SqlStagedEvents]:
    """A staging table for one bulk write, dropped afterwards whatever happens."""
    staged = SqlStagedEvents(engine)
    with transaction(engine) as conn:
        staged.table.create(conn)
    try:
        yield staged
    finally:
        with transaction(engine) as conn:
            staged.table.drop(conn, checkfirst=True)


def drop_leftovers(engine: Engine, older_than_s: float = 86_400.0) -> None:
    """Drop staging tables a killed process left behind (older than ``older_than_s``: a
    table being filled by a running ingest is young)."""
    oldest = time.time() - older_than_s
    names = [
        n
        for n in sa.inspect(engine).get_table_names()
        if n.startswith(PREFIX) and n.split("_")[1].isdigit() and int(n.split("_")[1]) < oldest
    ]
    with transaction(engine) as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
