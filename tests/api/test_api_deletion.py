"""Deletion that sticks (issue 12, item 2): after a shopper is deleted, no restart, no
other process and no bundle load brings their learned state back."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.demo import recommendations_for, run_demo
from shopsense.pipeline import train
from shopsense.store import ArtifactStore, SqlStore, open_store


def stored_shopper(settings: Settings, number: int) -> str:
    """A shopper with events in the store (the bundles know no shopper ids)."""
    store = open_store(settings)
    users = sorted({str(u) for b in store.events.iter_batches() for u in b.user_id})
    store.close()
    return users[number]


def files_holding(settings: Settings, text: str) -> list[str]:
    """Every file under the data dir whose bytes contain ``text``."""
    needle = text.encode()
    return [
        str(p.relative_to(settings.data_dir))
        for p in settings.data_dir.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    ]


def serve(settings: Settings, **config: Any) -> TestClient:
    return TestClient(create_app(settings, ServeConfig(api_key=API_KEY, **config), search=False))


def test_a_deletion_survives_a_restart_and_the_cli(shop_copy: Settings) -> None:
    """Regression: after DELETE /users/U0042 a plain restart brought the shopper's learned
    factors back (the forgotten list was in memory only), `shopsense recommend` still
    answered from the saved model, and every bundle kept the raw id and events of every
    shopper it was trained on (``train/ids.json`` and ``train/log.npz`` of each model)."""
    user = stored_shopper(shop_copy, 3)
    bundles = shop_copy.data_dir / "artifacts"
    assert not [p for p in files_holding(shop_copy, user) if p.startswith("artifacts")]
    assert not list(bundles.rglob("log.npz")) or all(
        np.load(p)["user"].size == 0 for p in bundles.rglob("log.npz")
    )
    with serve(shop_copy, follow_changes_s=0) as client:
        before = recommendations_for(shop_copy, user, 5)
        assert client.delete(f"/users/{user}", headers=HEADERS).status_code == 200
    older = ArtifactStore(shop_copy.artifacts_dir).latest()
    assert older is not None
    store = open_store(shop_copy)  # a newer bundle, trained after the deletion
    with contextlib.redirect_stdout(io.StringIO()):
        train(store, shop_copy, text=None)
    store.close()
    with serve(shop_copy, follow_changes_s=0) as restarted:
        state = restarted.app.state.serving  # type: ignore[attr-defined]
        assert state.history(user) == []
        activated = restarted.post(f"/admin/models/{older.id}/activate", headers=HEADERS)
        assert activated.status_code == 200  # the bundle trained while the shopper existed
        assert state.history(user) == []
    after = recommendations_for(shop_copy, user, 5)
    assert after != before  # the CLI answers as for a new shopper
    store = open_store(shop_copy)
    assert store.events.digest(user) in store.events.forgotten()
    assert all(user not in d for d in store.events.forgotten())  # a hash, not the id
    store.close()
    # store, bundles, caches: nowhere. (``sample-shop/`` holds the files `demo` generated
    # and ingested: the shop's own input, as a CSV export of theirs would be.)
    left = [p for p in files_holding(shop_copy, user) if not p.startswith("sample-shop/")]
    assert left == []


def test_a_deletion_by_another_process_reaches_a_running_server(shop_copy: Settings) -> None:
    """Regression: `shopsense delete-user` on a running server changed nothing it served."""
    user = stored_shopper(shop_copy, 7)
    with serve(shop_copy, follow_changes_s=0) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        client.get(f"/recommendations/{user}")  # the shopper's history is now in memory
        assert state.history(user)
        other = open_store(shop_copy)  # what `shopsense delete-user` does
        other.events.delete_user(user)
        other.close()
        # Regression: the list just served was queued as impressions; written after the
        # deletion (the background writer's timing), they brought the shopper back.
        state.impressions.flush()
        assert state.follow_deletions() == 1
        assert state.history(user) == []  # read again from the store: nothing
        assert state.follow_deletions() == 0


@pytest.mark.parametrize("written", [False, True], ids=["queued", "written"])
def test_a_deletion_finds_a_shopper_known_only_by_their_logged_lists(
    shop_copy: Settings, written: bool
) -> None:
    """Regression: a shopper the in-memory histories had let go of (and the models never
    knew) was not found, so lists served to them before another process deleted them
    were stored after the deletion and stayed."""
    user = f"visitor-gone-{'written' if written else 'queued'}"  # the shop is the module's
    with serve(shop_copy, follow_changes_s=0) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        assert client.get(f"/recommendations/{user}").status_code == 200
        state.recent.forget(user)  # let go, as an evicted history is
        other = open_store(shop_copy)  # what `shopsense delete-user` does
        other.events.delete_user(user)
        other.close()
        if written:
            state.impressions.flush()  # the writer's timing: after the deletion
        assert state.follow_deletions() == 1
        state.impressions.flush()
        assert state.history(user) == []
    store = open_store(shop_copy)
    assert [e for b in store.events.iter_batches() for e in b.user_id if str(e) == user] == []
    store.close()


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SHOPSENSE_TEST_POSTGRES_URL"), reason="needs the PostgreSQL test server"
)
def test_a_deletion_sticks_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The same on PostgreSQL: the rows are gone from the tables (and VACUUMed), no file
    under the data dir (bundles) holds the id, and the answers are a new shopper's."""
    direct = SqlStore(postgres_url)
    with direct.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE events, products, users, carts, forgotten")
    direct.close()
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_demo(settings, n_products=120, n_users=60, seed=5)
    user = stored_shopper(settings, 4)
    before = recommendations_for(settings, user, 5)
    with serve(settings, follow_changes_s=0) as client:
        assert client.delete(f"/users/{user}", headers=HEADERS).status_code == 200
    with serve(settings, follow_changes_s=0) as restarted:
        state = restarted.app.state.serving  # type: ignore[attr-defined]
        assert state.history(user) == []
    assert recommendations_for(settings, user, 5) != before
    store = SqlStore(postgres_url)
    with store.engine.connect() as conn:
        for table, column in (("events", "user_id"), ("users", "id"), ("carts", "user_id")):
            query = f"SELECT count(*) FROM {table} WHERE {column} = %(u)s"  # fixed names
            assert conn.exec_driver_sql(query, {"u": user}).scalar_one() == 0, table
    vacuumed = None
    for _ in range(20):  # the statistics may trail the VACUUM by a moment
        with store.engine.connect() as conn:
            vacuumed = conn.exec_driver_sql(
                "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'events'"
            ).scalar_one()
        if vacuumed is not None:
            break
        time.sleep(0.1)
    store.close()
    assert vacuumed is not None
    left = [p for p in files_holding(settings, user) if not p.startswith("sample-shop/")]
    assert left == []
