"""Event and catalog writes: committed before the answer, idempotent, counted exactly."""

from __future__ import annotations

import uuid

from api_helpers import HEADERS
from fastapi.testclient import TestClient


def test_events_are_stored_once(client: TestClient) -> None:
    store = client.app.state.serving.store  # type: ignore[attr-defined]
    before = store.events.count()
    user = "idem-" + uuid.uuid4().hex[:6]
    events = [
        {"event_id": f"{user}-{i}", "user_id": user, "kind": "view", "item_id": "P00002"}
        for i in range(50)
    ]
    first = client.post("/events", json={"events": events}, headers=HEADERS).json()
    assert first["accepted"] == 50 and first["stored"] == 50
    again = client.post("/events", json={"events": events}, headers=HEADERS).json()
    assert again["accepted"] == 50 and again["stored"] == 0
    assert store.events.count() == before + 50
    # The in-memory history did not double either.
    history = client.app.state.serving.history(user)  # type: ignore[attr-defined]
    assert len(history) == 50


def test_events_without_id_or_time_get_them(client: TestClient) -> None:
    user = "anon-" + uuid.uuid4().hex[:6]
    event = {"user_id": user, "kind": "search", "query": "rain jacket"}
    body = client.post("/events", json={"events": [event]}, headers=HEADERS).json()
    assert body["stored"] == 1
    stored = client.app.state.serving.store.events.user_history(user)  # type: ignore[attr-defined]
    assert stored[0].event_id.startswith("h:") and stored[0].timestamp is not None


def test_products_are_upserted_and_served(client: TestClient) -> None:
    product = {
        "id": "NEW-1",
        "title": "Brand-new trail running vest",
        "category": "Sports > Running",
        "price": 49.5,
    }
    body = client.put("/catalog/products", json={"products": [product]}, headers=HEADERS)
    assert body.status_code == 200 and body.json()["upserted"] == 1
    state = client.app.state.serving  # type: ignore[attr-defined]
    assert state.store.catalog.get("NEW-1").title == product["title"]
    assert "NEW-1" in state.catalog
    # Events on it are accepted now, and its page has recommendations (a fallback for now).
    event = {"user_id": "u-new", "kind": "view", "item_id": "NEW-1"}
    assert client.post("/events", json={"events": [event]}, headers=HEADERS).status_code == 200
    similar = client.get("/items/NEW-1/similar", params={"n": 3}).json()
    assert len(similar["items"]) == 3


def test_health_and_metrics(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["bundle"] and health["products"] >= 300
    client.get("/recommendations/U0001")
    text = client.get("/metrics").text
    assert (
        'shopsense_requests_total{method="GET",route="/recommendations/{user_id}",status="200"}'
        in text
    )
    assert "shopsense_request_seconds_bucket" in text
    assert "shopsense_events_stored_total" in text


def test_openapi_docs_describe_the_api(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    paths = ["/recommendations/{user_id}", "/search", "/events", "/catalog/products"]
    paths += ["/users/{user_id}", "/admin/train", "/admin/models", "/health", "/metrics"]
    for path in paths:
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/recommendations/{user_id}"]["get"]["parameters"]}
    assert {"scenario", "n", "category", "price_max", "in_stock"} <= params


def test_the_spec_declares_the_key_and_every_error(client: TestClient) -> None:
    """Regression (issue 12): the schema declared no API-key security (Swagger could not
    send X-API-Key) and schemathesis found undocumented 404s."""
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "SHOPSENSE_API_KEY"} for s in schemes.values())  # fmt: skip
    post = spec["paths"]["/events"]["post"]
    assert post["security"] and {"401", "413", "422", "503"} <= set(post["responses"])
    for path, method in [("/items/{item_id}/similar", "get"),
                         ("/admin/models/{bundle_id}/activate", "post")]:  # fmt: skip
        answers = spec["paths"][path][method]["responses"]
        assert "404" in answers, path
        body = answers["404"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith("/ErrorOut")
