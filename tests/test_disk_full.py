"""Faults (issue 12): the disk fills up during an ingest or while a bundle is saved. The
command says so in one line, what was stored before stays exactly as it was, and once there
is space again the same command completes."""

from __future__ import annotations

import contextlib
import errno
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from shopsense.cli import main
from shopsense.config import Settings
from shopsense.demo import run_demo
from shopsense.store import ArtifactStore, open_store

HEADER = "event_id,user_id,kind,item_id,timestamp"


def events_csv(path: Path, start: int, n: int) -> Path:
    rows = [f"e{i},u{i % 50},view,P{i % 20},2026-11-01T00:00:00Z" for i in range(start, n)]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_disk_full_during_an_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    first = events_csv(tmp_path / "first.csv", 0, 1000)
    big = events_csv(tmp_path / "big.csv", 1000, 40_000)
    args = ["--data-dir", str(data), "ingest", "events", "--allow-unknown-items"]
    assert main([*args, str(first)]) == 0
    store = open_store(Settings(data_dir=data))
    with store.engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    store.close()
    capsys.readouterr()

    # SQLite's own "disk full": the database may not grow past a few more pages
    def limit(dbapi: Any, _: Any) -> None:
        dbapi.execute(f"PRAGMA max_page_count = {pages + 100}")

    sa.event.listen(sa.engine.Engine, "connect", limit)
    try:
        assert main([*args, str(big)]) == 2
    finally:
        sa.event.remove(sa.engine.Engine, "connect", limit)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err, err
    store = open_store(Settings(data_dir=data))
    assert store.events.count() == 1000  # what was there, exactly
    store.close()
    assert main([*args, str(big)]) == 0  # space again: the same command completes
    store = open_store(Settings(data_dir=data))
    assert store.events.count() == 40_000
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    store.close()


@pytest.mark.slow
def test_disk_full_while_a_bundle_is_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_demo(settings, n_products=60, n_users=40)
    artifacts = ArtifactStore(settings.artifacts_dir)
    before = artifacts.latest()
    assert before is not None
    listed = [b.id for b in artifacts.list()]
    real = np.savez
    calls = {"n": 0}

    def savez(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 3:  # a few files in, the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]))
        real(*args, **kwargs)

    monkeypatch.setattr(np, "savez", savez)
    capsys.readouterr()
    assert main(["--data-dir", str(settings.data_dir), "train", "--no-gate"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    monkeypatch.setattr(np, "savez", real)
    assert [b.id for b in artifacts.list()] == listed  # no new or half-written bundle
    latest = artifacts.latest()
    assert latest is not None and latest.id == before.id  # the previous bundle still serves
    staging = settings.artifacts_dir / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    assert main(["--data-dir", str(settings.data_dir), "train", "--no-gate"]) == 0
    newest = ArtifactStore(settings.artifacts_dir).latest()
    assert newest is not None and newest.id != before.id
