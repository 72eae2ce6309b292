"""A running server follows catalog writes made by another process (issue 12, item 10)."""

from __future__ import annotations

import time
from pathlib import Path

from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.ingest.ingester import ingest_catalog_file
from shopsense.store import open_store


def ingest_from_the_cli(settings: Settings, tmp_path: Path, rows: str) -> None:
    """What ``shopsense ingest catalog`` does: its own connection to the store."""
    path = tmp_path / "more.csv"
    path.write_text("id,title,category\n" + rows)
    store = open_store(settings)
    ingest_catalog_file(store.catalog, path)
    store.close()


def test_a_catalog_ingested_elsewhere_is_served(shop_copy: Settings, tmp_path: Path) -> None:
    """Regression: a catalog ingested by the CLI was invisible to a running server (unknown
    product on POST /events, 404 on the product page) until a restart."""
    config = ServeConfig(api_key=API_KEY, follow_changes_s=0)  # the test looks itself
    with TestClient(create_app(shop_copy, config, search=False)) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        twin = state.catalog.products()[4]
        ingest_from_the_cli(shop_copy, tmp_path, f'NEW-1,Brand-new kettle,"{twin.category_path}"\n')
        event = {"user_id": "u-follow", "kind": "view", "item_id": "NEW-1"}
        assert client.post("/events", json={"events": [event]}, headers=HEADERS).status_code == 422
        assert state.follow_catalog() == 1
        assert state.follow_catalog() == 0  # nothing new: nothing re-applied
        assert client.post("/events", json={"events": [event]}, headers=HEADERS).status_code == 200
        assert client.get("/product/NEW-1").status_code == 200
        similar = client.get("/items/NEW-1/similar").json()
        assert similar["items"]  # day zero: the item tower places it
        # a change to a product already served is followed too
        ingest_from_the_cli(shop_copy, tmp_path, f'NEW-1,Kettle v2,"{twin.category_path}"\n')
        assert state.follow_catalog() == 1
        assert state.catalog.get("NEW-1").title == "Kettle v2"


def test_the_server_looks_by_itself(shop_copy: Settings, tmp_path: Path) -> None:
    config = ServeConfig(api_key=API_KEY, follow_changes_s=0.2)
    with TestClient(create_app(shop_copy, config, search=False)) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        ingest_from_the_cli(shop_copy, tmp_path, "NEW-2,Teapot,Home\n")
        deadline = time.monotonic() + 60  # liveness only; the delay is measured elsewhere
        while "NEW-2" not in state.catalog and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "NEW-2" in state.catalog
