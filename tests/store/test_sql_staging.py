"""Bulk ingests through a staging table (issue 12, item 9; issue 13, item 1): the log's
write lock is held one chunk at a time, a refused file leaves nothing, a killed ingest
resumes exactly, and staging leaves no file behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factories import event
from shopsense.errors import IngestError
from shopsense.ingest.files import Record
from shopsense.ingest.ingester import ingest_events
from shopsense.store import SqlStore, sql_staging


def records(n: int, during: Any = None) -> Iterator[Record]:
    for i in range(1, n + 1):
        if during is not None and i == n // 2:
            during()
        e = event(i, user=f"U{i % 7}")
        yield i, e.model_dump(mode="json")


def test_other_writes_go_through_while_a_file_is_ingested(tmp_path: Path) -> None:
    """Regression: a CLI ingest held the write lock for the whole file; a second writer
    failed after 10 s with "database is locked"."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    ingest, server = SqlStore(url), SqlStore(url)
    written: list[int] = []

    def server_write() -> None:  # what the API does meanwhile, from its own connection
        written.append(server.events.append([event(10_000, user="live")]))

    report = ingest_events(ingest.events, records(3000, during=server_write), "big.csv",
                           batch_size=500)  # fmt: skip
    assert written == [1]
    assert report.written == 3000 and ingest.events.count() == 3001


def test_a_refused_file_leaves_no_row_and_no_staging_table(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")

    def broken() -> Iterator[Record]:
        yield from records(50)
        yield 51, {"event_id": "x", "user_id": "U1", "kind": "teleport"}

    with pytest.raises(IngestError):
        ingest_events(store.events, broken(), "bad.csv", batch_size=10)
    assert store.events.count() == 0
    import sqlalchemy as sa

    assert not [t for t in sa.inspect(store.engine).get_table_names() if t.startswith("staging_")]
    assert sorted(p.name for p in tmp_path.iterdir() if "staging" in p.name) == []


def test_a_file_stages_beside_the_database_and_leaves_nothing(tmp_path: Path) -> None:
    """The staging table lives in a database file of its own in the store's folder (not
    in a temporary folder that may be small), gone once the ingest ends."""
    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    seen: list[list[str]] = []

    def look() -> None:
        seen.append(sorted(p.name for p in tmp_path.glob("staging_*.db")))

    report = ingest_events(store.events, records(300, during=look), "big.csv", batch_size=50)
    assert report.written == 300 and store.events.count() == 300
    assert len(seen) == 1 and len(seen[0]) == 1
    assert list(tmp_path.glob("staging_*")) == []


def test_a_killed_ingest_run_again_stores_exactly_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    real = sql_staging.upsert_into
    moved = {"chunks": 0}

    def killed_after_two_chunks(conn: Any, table: Any) -> Any:
        if table is sql_staging.events:
            moved["chunks"] += 1
            if moved["chunks"] == 3:
                raise KeyboardInterrupt("killed")
        return real(conn, table)

    monkeypatch.setattr(sql_staging, "upsert_into", killed_after_two_chunks)
    monkeypatch.setattr(sql_staging.SqlStagedEvents.commit, "__defaults__", (40,))
    with pytest.raises(KeyboardInterrupt):
        ingest_events(store.events, records(200), "big.csv", batch_size=50)
    assert store.events.count() == 80  # two chunks of 40 were committed
    monkeypatch.undo()
    report = ingest_events(store.events, records(200), "big.csv", batch_size=50)
    assert (report.written, report.duplicates) == (120, 80)
    assert store.events.count() == 200


def test_staging_tables_of_killed_processes_are_dropped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = SqlStore(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "staging_1000_dead" (row INTEGER)')  # 1970
        conn.exec_driver_sql('CREATE TABLE "staging_99999999999_live" (row INTEGER)')
    import sqlalchemy as sa

    dead, live = tmp_path / "staging_1000_dead.db", tmp_path / "staging_2000000000_live.db"
    for file in (dead, live):
        file.write_bytes(b"")
    os.utime(dead, (1000, 1000))
    SqlStore(url)  # opening the store again cleans up
    names = set(sa.inspect(store.engine).get_table_names())
    assert "staging_1000_dead" not in names and "staging_99999999999_live" in names
    assert not dead.exists() and live.exists()
