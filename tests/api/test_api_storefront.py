"""Storefront and dashboard pages (server side; the browser tests drive them for real)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_home_product_cart_checkout_record_real_events(client: TestClient) -> None:
    state = client.app.state.serving  # type: ignore[attr-defined]
    home = client.get("/?as=shopper-x")
    assert home.status_code == 200 and "Trending now" in home.text
    assert client.cookies.get("ss_uid") == "shopper-x"
    item = state.catalog.products()[7]
    page = client.get(f"/product/{item.id}", params={"why": "because you viewed X"})
    assert page.status_code == 200 and item.title in page.text
    assert "Why you see this: because you viewed X" in page.text
    assert "Similar items" in page.text and "Frequently bought together" in page.text
    response = client.post("/cart/add", data={"item_id": item.id})
    assert response.status_code == 200 and item.title in response.text  # redirected to /cart
    thanks = client.post("/checkout")
    assert thanks.status_code == 200 and "Thank you" in thanks.text
    kinds = [e.kind.value for e in state.store.events.user_history("shopper-x")]
    assert kinds == ["add_to_cart", "purchase"]
    assert client.get("/cart").text.count("cart-line") == 0


def test_page_events_are_bound_to_the_cookie_shopper(client: TestClient) -> None:
    state = client.app.state.serving  # type: ignore[attr-defined]
    client.get("/?as=cookie-shopper")
    item = state.catalog.products()[3].id
    events = [
        {
            "event_id": "a1",
            "kind": "impression",
            "item_id": item,
            "request_id": "r1",
            "position": 0,
        },
        {"event_id": "a2", "kind": "click", "item_id": item, "request_id": "r1", "position": 0},
    ]
    response = client.post("/shop/events", json={"events": events})
    assert response.status_code == 200 and response.json()["stored"] == 2
    stored = state.store.events.user_history("cookie-shopper")
    assert [(e.kind.value, e.request_id, e.position) for e in stored] == [
        ("impression", "r1", 0),
        ("click", "r1", 0),
    ]
    # Purchases cannot be forged through the page endpoint.
    forged = [{"event_id": "a3", "kind": "purchase", "item_id": item}]
    assert client.post("/shop/events", json={"events": forged}).status_code == 422


def test_dashboard_shows_models_volumes_and_rates(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    for part in ("Model versions", "serving", "Events per day", "Click-through", "Conversion"):
        assert part in page.text
    assert page.text.count("<svg") == 3
    stats = client.get("/admin/stats").json()["days"]
    assert stats and {"date", "events", "ctr", "conversion"} <= set(stats[-1])


def test_unknown_product_page_is_a_404(client: TestClient) -> None:
    assert client.get("/product/NOPE").status_code == 404


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shopper=st.text(max_size=80),
    item=st.text(min_size=1, max_size=300),
    event_id=st.text(min_size=1, max_size=300),
)
def test_no_storefront_input_makes_a_500(
    client: TestClient, shopper: str, item: str, event_id: str
) -> None:
    client.cookies.clear()
    client.get("/", params={"as": shopper})
    events = [{"event_id": event_id, "kind": "view", "item_id": item}]
    for response in (
        client.post("/shop/events", json={"events": events}),
        client.post("/cart/add", data={"item_id": item}),
        client.get(f"/product/{quote(item, safe='')}", params={"why": item}),
        client.get("/shop/search", params={"q": item}),
    ):
        assert response.status_code < 500, response.text[:300]
