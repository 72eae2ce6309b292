"""Storefront and dashboard pages (server side; the browser tests drive them for real)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from api_helpers import API_KEY
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings


def serve(shop: Settings, **config: Any) -> Iterator[TestClient]:
    app = create_app(shop, ServeConfig(api_key=API_KEY, **config), search=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def client(shop_copy: Settings) -> Iterator[TestClient]:
    """A demo server (``?as=`` allowed), no write limit."""
    yield from serve(shop_copy, demo_shoppers=True, shop_write_limit="")


@pytest.fixture(scope="module")
def shop(shop_copy: Settings) -> Iterator[TestClient]:
    """A real shop's server: no ``?as=``, the default write limit."""
    yield from serve(shop_copy)


def csrf(page: str) -> str:
    found = re.search(r'<meta name="csrf" content="([0-9a-f]+)">', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def test_home_product_cart_checkout_record_real_events(client: TestClient) -> None:
    state = client.app.state.serving  # type: ignore[attr-defined]
    home = client.get("/?as=shopper-x")
    assert home.status_code == 200 and "Trending now" in home.text
    assert state.shoppers.read_user(client.cookies.get("ss_uid")) == "shopper-x"
    item = state.catalog.products()[7]
    page = client.get(f"/product/{item.id}", params={"why": "because you viewed X"})
    assert page.status_code == 200 and item.title in page.text
    assert "Why you see this: because you viewed X" in page.text
    assert "Similar items" in page.text and "Frequently bought together" in page.text
    token = csrf(page.text)
    response = client.post("/cart/add", data={"item_id": item.id, "csrf": token})
    assert response.status_code == 200 and item.title in response.text  # redirected to /cart
    thanks = client.post("/checkout", data={"csrf": csrf(response.text)})
    assert thanks.status_code == 200 and "Thank you" in thanks.text
    history = state.store.events.user_history("shopper-x")
    kinds = [e.kind.value for e in history if e.kind.value != "impression"]
    assert kinds == ["add_to_cart", "purchase"]
    assert client.get("/cart").text.count("cart-line") == 0


def test_page_events_are_bound_to_the_cookie_shopper(client: TestClient) -> None:
    state = client.app.state.serving  # type: ignore[attr-defined]
    token = csrf(client.get("/?as=cookie-shopper").text)
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
    response = client.post("/shop/events", json={"events": events, "csrf": token})
    assert response.status_code == 200 and response.json()["stored"] == 2
    stored = state.store.events.user_history("cookie-shopper")
    assert [(e.kind.value, e.request_id, e.position) for e in stored] == [
        ("impression", "r1", 0),
        ("click", "r1", 0),
    ]
    # Purchases cannot be forged through the page endpoint.
    forged = [{"event_id": "a3", "kind": "purchase", "item_id": item}]
    assert client.post("/shop/events", json={"events": forged, "csrf": token}).status_code == 422
    # ?as= on a write does not switch shopper (regression: it wrote for anybody)
    view = [{"event_id": "a4", "kind": "view", "item_id": item}]
    body = {"events": view, "csrf": token}
    assert client.post("/shop/events?as=U0001", json=body).status_code == 200
    assert not [e for e in state.store.events.user_history("U0001") if e.event_id.endswith("a4")]


def test_dashboard_shows_models_volumes_and_rates(client: TestClient) -> None:
    client.cookies.clear()
    page = client.post("/dashboard/login", data={"key": API_KEY})  # then redirected
    assert page.status_code == 200
    for part in ("Model versions", "serving", "Events per day", "Click-through", "Conversion"):
        assert part in page.text
    assert page.text.count("<svg") == 3
    stats = client.get("/admin/stats").json()["days"]  # the operator's cookie opens it
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


def test_a_real_shop_refuses_as_and_forged_cookies(shop: TestClient) -> None:
    """Regression (issue 12): ``/?as=U0001`` showed that shopper's history and
    ``POST /shop/events?as=U0001`` wrote for them, without a key; a hand-made ``ss_uid``
    cookie did the same."""
    state = shop.app.state.serving  # type: ignore[attr-defined]
    refused = shop.get("/?as=U0001")
    assert refused.status_code == 403 and "SHOPSENSE_DEMO_SHOPPERS" in refused.json()["error"]
    shop.cookies.clear()
    shop.cookies.set("ss_uid", "U0001")
    shop.cookies.set("ss_sid", "W-1")
    page = shop.get("/")
    assert 'id="shopper">U0001<' not in page.text  # a new anonymous shopper instead
    assert state.shoppers.read_user(page.cookies.get("ss_uid")) not in (None, "U0001")
    shop.cookies.clear()
    shop.cookies.set("ss_uid", "U0001")
    item = state.catalog.products()[3].id
    before = len(state.store.events.user_history("U0001"))
    events = {"events": [{"event_id": "f1", "kind": "click", "item_id": item}], "csrf": "0" * 32}
    assert shop.post("/shop/events", json=events).status_code == 403
    assert len(state.store.events.user_history("U0001")) == before


def test_writes_need_the_pages_csrf_token_and_are_rate_limited(shop_copy: Settings) -> None:
    config = ServeConfig(api_key=API_KEY, shop_write_limit="3/minute")  # its own count
    with TestClient(create_app(shop_copy, config, search=False)) as shop:
        item = shop.app.state.serving.catalog.products()[5].id  # type: ignore[attr-defined]
        token = csrf(shop.get(f"/product/{item}").text)
        assert shop.post("/cart/add", data={"item_id": item}).status_code == 403  # no token
        wrong = shop.post("/cart/add", data={"item_id": item, "csrf": "f" * 32})
        assert wrong.status_code == 403
        ok = shop.post("/cart/add", data={"item_id": item, "csrf": token})
        assert ok.status_code == 200  # the third write of this minute
        limited = shop.post("/cart/add", data={"item_id": item, "csrf": token})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_a_cart_survives_a_restart(shop_copy: Settings) -> None:
    """Regression (issue 12): carts lived in server memory; a restart lost every cart."""
    config = ServeConfig(api_key=API_KEY, shop_write_limit="")
    with TestClient(create_app(shop_copy, config, search=False)) as first:
        item = first.app.state.serving.catalog.products()[9]  # type: ignore[attr-defined]
        token = csrf(first.get(f"/product/{item.id}").text)
        assert first.post("/cart/add", data={"item_id": item.id, "csrf": token}).status_code == 200
        cookies = dict(first.cookies.items())
    with TestClient(create_app(shop_copy, config, search=False), cookies=cookies) as second:
        page = second.get("/cart")
        assert page.text.count("cart-line") == 1 and item.title in page.text


def test_the_dashboard_and_stats_are_for_the_operator_only(shop: TestClient) -> None:
    """Regression (issue 12): /dashboard and /admin/stats were public by default and showed
    bundle ids, gate verdicts and volumes that /admin/models protects."""
    shop.cookies.clear()
    login = shop.get("/dashboard")  # redirected to the login form
    assert login.url.path == "/dashboard/login" and 'id="login"' in login.text
    assert "Model versions" not in login.text
    assert shop.get("/admin/stats").status_code == 401
    assert shop.get("/admin/stats", headers={"X-API-Key": API_KEY}).status_code == 200
    wrong = shop.post("/dashboard/login", data={"key": "guess"})
    assert wrong.status_code == 401 and 'id="wrong-key"' in wrong.text
    shop.cookies.set("ss_admin", "operator")  # a hand-made cookie opens nothing
    assert shop.get("/admin/stats").status_code == 401
    shop.cookies.clear()
    assert "Dashboard" not in shop.get("/").text  # the shop header does not link it
