"""Bad input gets a 4xx naming the field; no input makes the server answer 500."""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import quote

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/recommendations/U0001?n=0", "n"),
        ("/recommendations/U0001?n=101", "n"),
        ("/recommendations/U0001?n=ten", "n"),
        ("/recommendations/U0001?scenario=magic", "scenario"),
        ("/recommendations/U0001?price_min=-3", "price_min"),
        ("/recommendations/U0001?price_min=nan", "price_min"),
        ("/recommendations/U0001?price_min=50&price_max=10", "price_min"),
        ("/recommendations/U0001?in_stock=maybe", "in_stock"),
        ("/recommendations/U0001?item_id=NOPE&scenario=similar", "item_id"),
        ("/items/P00001/similar?kind=weird", "kind"),
        ("/recommendations/%20?n=3", "user_id"),
        ("/recommendations/abc%00def", "path"),  # regression: 503 on PostgreSQL
        ("/search?q=mug%00", "query"),
    ],
)
def test_bad_parameters_name_the_field(client: TestClient, url: str, field: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["field"] == field
    assert field in body["error"]


def event(**changes: Any) -> dict[str, Any]:
    base = {"event_id": "e-1", "user_id": "u1", "kind": "view", "item_id": "P00001"}
    return {k: v for k, v in (base | changes).items() if v is not None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": [event(kind="teleport")]}, "events[0].kind"),
        ({"events": [event(), event(timestamp="yesterday")]}, "events[1].timestamp"),
        ({"events": [event(item_id=None)]}, "events[0].item_id"),
        ({"events": [event(kind="search", item_id=None)]}, "events[0].query"),
        ({"events": [event(quantity=2)]}, "events[0].quantity"),
        ({"events": [event(price=-1)]}, "events[0].price"),
        ({"events": [event(user_id="")]}, "events[0].user_id"),
        ({"events": [event(colour="red")]}, "events[0].colour"),
        ({"events": [event(item_id="NOT-IN-CATALOG")]}, "events[0].item_id"),
        # Regressions (issue 12): a 500 and an OverflowError; a year-9999 event was stored
        ({"events": [event(kind="purchase", quantity=10**20)]}, "events[0].quantity"),
        ({"events": [event(position=10**20)]}, "events[0].position"),
        ({"events": [event(timestamp="9999-12-31T00:00:00Z")]}, "events[0].timestamp"),
        ({"events": [event(timestamp="0001-01-01T00:00:00+01:00")]}, "events[0].timestamp"),
        ({"events": [event(user_id="u\x001")]}, "events[0].user_id"),
        ({"events": []}, "events"),
        ({"events": [event(event_id=f"e{i}") for i in range(1001)]}, "events"),
        ({"evnts": []}, "events"),
        ([1, 2, 3], "body"),
    ],
)
def test_bad_events_are_refused_naming_the_field(client: TestClient, body: Any, field: str) -> None:
    store = client.app.state.serving.store  # type: ignore[attr-defined]
    before = store.events.count()
    response = client.post("/events", json=body, headers=HEADERS)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert store.events.count() == before  # all or nothing: nothing was written


def test_malformed_json_is_a_422(client: TestClient) -> None:
    headers = HEADERS | {"Content-Type": "application/json"}
    response = client.post("/events", content=b'{"events": [', headers=headers)
    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert "JSON" in response.json()["error"]


def test_bad_products_name_the_field(client: TestClient) -> None:
    products = [{"id": "X1", "title": "ok"}, {"id": "X2", "title": "  ", "price": 3}]
    response = client.put("/catalog/products", json={"products": products}, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["field"] == "products[1].title"
    assert "X1" not in client.app.state.serving.catalog  # type: ignore[attr-defined]


def test_oversized_bodies_are_refused(client: TestClient) -> None:
    big = b'{"events": [' + b" " * (5 * 1024 * 1024) + b"]}"
    response = client.post("/events", content=big, headers=HEADERS)
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_oversized_streamed_bodies_are_refused(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(80):
            yield b" " * 65536

    response = client.post("/events", content=chunks(), headers=HEADERS)
    assert response.status_code == 413


text = st.text(alphabet=string.printable + "éß€\u200b", max_size=30)
params = st.dictionaries(
    st.sampled_from(
        [
            "n",
            "scenario",
            "item_id",
            "category",
            "brand",
            "price_min",
            "price_max",
            "in_stock",
            "exclude_seen",
            "kind",
            "user_id",
            "days",
        ]
    ),
    text,
    max_size=5,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(user=text, query=params)
def test_no_parameters_make_a_500(client: TestClient, user: str, query: dict[str, str]) -> None:
    quoted = quote(user, safe="")
    for url in (f"/recommendations/{quoted}", f"/items/{quoted}/similar"):
        response = client.get(url, params=query)
        assert response.status_code < 500, (url, query, response.text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "event_id": json_values,
        "user_id": json_values,
        "kind": st.sampled_from(["view", "purchase", "search", "nope"]) | json_values,
        "item_id": st.sampled_from(["P00001", "P00002"]) | json_values,
        "timestamp": json_values,
        "quantity": json_values,
        "position": json_values,
    },
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.fixed_dictionaries({"events": st.lists(event_like, max_size=3)}) | json_values)
def test_no_event_body_makes_a_500(client: TestClient, body: Any) -> None:
    response = client.post("/events", json=body, headers=HEADERS)
    assert response.status_code < 500, (body, response.text)
    if response.status_code >= 400:
        assert response.json()["field"]


def test_the_server_applies_its_own_clock_skew() -> None:
    from datetime import UTC, datetime, timedelta

    from shopsense.api.schemas import EventIn

    now = datetime.now(UTC)
    ahead = EventIn.model_validate(event(timestamp=(now + timedelta(days=3)).isoformat()))
    with pytest.raises(ValueError, match="max_clock_skew_s"):
        ahead.to_event(now)  # default: one day
    assert ahead.to_event(now, max_clock_skew_s=7 * 86_400).timestamp > now


@pytest.mark.parametrize(
    "body",
    [
        b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # nested too deeply
        b'{"events": [{"user_id": "\xff\xfe"}]}',  # not UTF-8
    ],
)
def test_unparsable_bodies_are_a_422_naming_the_body(client: TestClient, body: bytes) -> None:
    """Regression (issue 12): these answered 400 ``{"detail": ...}``, not the documented
    422 with ``field``."""
    headers = HEADERS | {"Content-Type": "application/json"}
    response = client.post("/events", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"
    assert response.json()["error"].startswith("field 'body': malformed JSON")


def test_a_reused_event_id_is_refused_not_dropped(client: TestClient) -> None:
    """Regression (issue 12): a different event under a stored event_id was answered 200
    and dropped without a word."""
    store = client.app.state.serving.store  # type: ignore[attr-defined]
    first = event(event_id="reuse-1")
    assert client.post("/events", json={"events": [first]}, headers=HEADERS).status_code == 200
    before = store.events.count()
    again = [event(event_id="reuse-2"), event(event_id="reuse-1", kind="click")]
    response = client.post("/events", json={"events": again}, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["field"] == "events[1].event_id"
    assert store.events.count() == before  # reuse-2 was not written either
    same = client.post("/events", json={"events": [first]}, headers=HEADERS)
    assert same.status_code == 200 and same.json()["stored"] == 0  # a plain duplicate
