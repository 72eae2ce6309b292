"""Recommendations over HTTP: scenarios, explanations, filters, fallbacks, real time."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient

from shopsense.recommend import SCENARIOS


def active_shopper(client: TestClient) -> str:
    """A sample shopper with purchases (so for-you is personal)."""
    state = client.app.state.serving  # type: ignore[attr-defined]
    for number in range(1, 100):
        user = f"U{number:04d}"
        if sum(e.kind.value == "purchase" for e in state.history(user)) >= 1:
            return user
    raise AssertionError("no shopper with a purchase in the sample shop")


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_for_you_is_personal_and_explained(client: TestClient) -> None:
    user = active_shopper(client)
    body = get(client, f"/recommendations/{user}", n=5)
    assert body["scenario"] == "for_you" and body["strategy"] == "als"
    assert len(body["items"]) == 5
    assert all(item["title"] and item["in_stock"] for item in body["items"])
    assert any(item["explanation"].startswith("because you") for item in body["items"])
    seen = {e.item_id for e in client.app.state.serving.history(user)}  # type: ignore[attr-defined]
    assert not seen & {item["item_id"] for item in body["items"]}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_answers_with_request_ids(client: TestClient, scenario: str) -> None:
    user = active_shopper(client)
    first = get(client, f"/recommendations/{user}", scenario=scenario, n=4)
    second = get(client, f"/recommendations/{user}", scenario=scenario, n=4)
    assert first["scenario"] == scenario
    assert len(first["items"]) == 4
    assert first["request_id"] != second["request_id"]
    assert all(item["explanation"] for item in first["items"])
    assert len({item["item_id"] for item in first["items"]}) == 4


def test_unknown_shopper_gets_trending(client: TestClient) -> None:
    body = get(client, "/recommendations/never-seen-before", n=6)
    assert body["strategy"] == "trending"
    assert len(body["items"]) == 6
    assert all(item["explanation"].startswith("popular in") for item in body["items"])


def test_filters_are_business_rules(client: TestClient) -> None:
    user = active_shopper(client)
    category = client.app.state.serving.catalog.categories()[0]  # type: ignore[attr-defined]
    body = get(client, f"/recommendations/{user}", n=5, category=category, price_max=60)
    assert body["items"]
    for item in body["items"]:
        assert item["category"].startswith(category)
        assert item["price"] is None or item["price"] <= 60


def test_out_of_stock_products_are_never_recommended(client: TestClient) -> None:
    user = active_shopper(client)
    body = get(client, f"/recommendations/{user}", n=3)
    top = body["items"][0]["item_id"]
    product = client.app.state.serving.catalog.get(top)  # type: ignore[attr-defined]
    changed = product.model_dump(mode="json") | {"in_stock": False}
    changed["category"] = product.category_path
    response = client.put("/catalog/products", json={"products": [changed]}, headers=HEADERS)
    assert response.status_code == 200, response.text
    again = get(client, f"/recommendations/{user}", n=10)
    assert top not in {item["item_id"] for item in again["items"]}
    with_stock = get(client, f"/recommendations/{user}", n=10, in_stock="false")
    assert with_stock["items"]


def test_similar_and_bought_together_items(client: TestClient) -> None:
    item = client.app.state.serving.catalog.products()[0].id  # type: ignore[attr-defined]
    similar = get(client, f"/items/{item}/similar", n=5)
    assert len(similar["items"]) == 5
    assert item not in {i["item_id"] for i in similar["items"]}
    assert similar["items"][0]["explanation"].startswith(("similar to", "popular in"))
    together = get(client, f"/items/{item}/similar", n=5, kind="bought_together")
    assert len(together["items"]) == 5
    assert client.get("/items/NO-SUCH-ITEM/similar").status_code == 404


def test_a_posted_event_changes_the_next_answer_within_a_second(client: TestClient) -> None:
    user = "fresh-" + uuid.uuid4().hex[:8]
    before = get(client, f"/recommendations/{user}", n=5)
    assert before["strategy"] == "trending"
    item = before["items"][3]["item_id"]
    event = {"event_id": uuid.uuid4().hex, "user_id": user, "kind": "purchase", "item_id": item}
    started = time.perf_counter()
    response = client.post("/events", json={"events": [event]}, headers=HEADERS)
    assert response.status_code == 200 and response.json()["stored"] == 1
    after = get(client, f"/recommendations/{user}", n=5)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert after["strategy"] == "als"
    assert [i["item_id"] for i in after["items"]] != [i["item_id"] for i in before["items"]]
    assert item not in {i["item_id"] for i in after["items"]}
    title = client.app.state.serving.catalog.get(item).title  # type: ignore[attr-defined]
    assert any(title[:30] in i["explanation"] for i in after["items"])
    # The session scenario reads the same fresh event.
    session = get(client, f"/recommendations/{user}", scenario="session", n=5)
    assert session["strategy"] != "trending"


def test_deleting_a_user_removes_events_and_influence(client: TestClient) -> None:
    user = "leaving-" + uuid.uuid4().hex[:8]
    item = client.app.state.serving.catalog.products()[5].id  # type: ignore[attr-defined]
    events = [
        {"event_id": uuid.uuid4().hex, "user_id": user, "kind": "purchase", "item_id": item},
        {"event_id": uuid.uuid4().hex, "user_id": user, "kind": "view", "item_id": item},
    ]
    assert client.post("/events", json={"events": events}, headers=HEADERS).status_code == 200
    assert get(client, f"/recommendations/{user}")["strategy"] == "als"
    response = client.delete(f"/users/{user}", headers=HEADERS)
    assert response.status_code == 200 and response.json()["deleted_events"] == 2
    store = client.app.state.serving.store  # type: ignore[attr-defined]
    assert store.events.user_history(user) == []
    assert get(client, f"/recommendations/{user}")["strategy"] == "trending"


def test_deleting_a_trained_user_erases_learned_factors(client: TestClient) -> None:
    user = active_shopper(client)
    state = client.app.state.serving  # type: ignore[attr-defined]
    als = state.engine().models.personal
    index = als.users_.get(user)
    assert index is not None and abs(als.user_factors_[index]).sum() > 0
    assert client.delete(f"/users/{user}", headers=HEADERS).status_code == 200
    assert abs(als.user_factors_[index]).sum() == 0
    assert get(client, f"/recommendations/{user}")["strategy"] == "trending"
