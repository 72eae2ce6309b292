"""A product upserted while serving is recommendable at once through the item tower."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.pipeline import train
from shopsense.store import open_store

pytest.importorskip("torch", reason="the item tower needs the ml extra")


@pytest.mark.slow
def test_new_product_gets_item_tower_neighbours(trained_shop: Settings, tmp_path: Path) -> None:
    shutil.copytree(trained_shop.data_dir, tmp_path / "data")
    settings = Settings(data_dir=tmp_path / "data")
    train(open_store(settings), settings, ("popularity", "item_tower"))
    app = create_app(settings, ServeConfig(api_key="test-key"), search=False)
    with TestClient(app) as client:
        state = client.app.state.serving  # type: ignore[attr-defined]
        stack = state.engine().models.stack
        assert "item_tower" in stack.sources.names  # part of the default stack
        twin = state.catalog.products()[10]
        product = twin.model_dump(mode="json") | {"id": "COLD-1", "created_at": None}
        product["category"] = twin.category_path
        response = client.put("/catalog/products", json={"products": [product]}, headers=HEADERS)
        assert response.status_code == 200
        similar = client.get("/items/COLD-1/similar", params={"n": 5}).json()
        assert similar["strategy"] == "item_tower"
        assert all(i["explanation"].startswith("similar to") for i in similar["items"])
        # The twin (same text and category) is its nearest neighbour.
        assert twin.id in [i["item_id"] for i in similar["items"][:3]]
        # A shopper who viewed the twin can be shown the new product in for-you.
        user = "cold-viewer"
        event = {"user_id": user, "kind": "purchase", "item_id": twin.id}
        assert client.post("/events", json={"events": [event]}, headers=HEADERS).status_code == 200
        body = client.get(f"/recommendations/{user}", params={"n": 100}).json()
        assert body["strategy"] in ("ranker", "blend")
        assert "COLD-1" in [i["item_id"] for i in body["items"]]
        assert "COLD-1" in state.engine().models.stack.table.index
