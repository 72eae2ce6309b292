"""Input limits (issue 12): every refusal is a validation error naming the field, never an
OverflowError, a database error or a stored record that breaks something later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsense.domain import Event, Product
from shopsense.limits import (
    MAX_ATTRIBUTE_NAME_CHARS,
    MAX_ATTRIBUTES,
    MAX_DESCRIPTION_CHARS,
    MAX_INT32,
    MAX_LABEL_CHARS,
    within_clock,
)

NOW = datetime.now(UTC)


def event(**changes: Any) -> dict[str, Any]:
    base = {"event_id": "e1", "user_id": "u1", "kind": "purchase", "item_id": "p1",
            "timestamp": "2026-01-05T10:00:00Z"}  # fmt: skip
    return base | changes


def refused_field(model: type[pydantic.BaseModel], data: dict[str, Any], **context: Any) -> str:
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(data, context=context or None)
    return str(caught.value.errors()[0]["loc"][0])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": 10**20}, "quantity"),  # was an OverflowError in the store
        ({"position": 10**20}, "position"),
        ({"quantity": MAX_INT32 + 1}, "quantity"),  # PostgreSQL's INTEGER column
        ({"price": "9" * 5000}, "price"),
        ({"price": 1e300}, "price"),
        ({"user_id": "u\x001"}, "user_id"),
        ({"item_id": "p\x00"}, "item_id"),
        ({"kind": "search", "item_id": None, "query": "mug\x00"}, "query"),
        ({"timestamp": "9999-12-31T23:59:59Z"}, "timestamp"),
        ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),  # was an OverflowError
        ({"timestamp": "1969-12-31T23:59:59Z"}, "timestamp"),
        ({"timestamp": (NOW + timedelta(days=2)).isoformat()}, "timestamp"),
    ],
)
def test_out_of_range_events_are_refused_by_field(changes: dict[str, Any], field: str) -> None:
    assert refused_field(Event, event(**changes)) == field


def test_the_largest_values_are_accepted() -> None:
    e = Event.model_validate(event(quantity=MAX_INT32, price=1e12, timestamp=NOW.isoformat()))
    assert e.quantity == MAX_INT32


def test_the_clock_skew_is_a_setting() -> None:
    ahead = event(timestamp=(NOW + timedelta(hours=2)).isoformat())
    assert Event.model_validate(ahead).timestamp > NOW  # default: one day
    assert refused_field(Event, ahead, max_clock_skew_s=60) == "timestamp"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"brand": "b" * (MAX_LABEL_CHARS + 1)}, "brand"),
        ({"description": "d" * (MAX_DESCRIPTION_CHARS + 1)}, "description"),
        ({"title": "mug\x00"}, "title"),
        ({"category": "Home > " + "k" * (MAX_LABEL_CHARS + 1)}, "category"),
        ({"category": " > ".join(f"l{i}" for i in range(11))}, "category"),
        ({"attributes": {"k" * (MAX_ATTRIBUTE_NAME_CHARS + 1): 1}}, "attributes"),
        ({"attributes": {f"a{i}": i for i in range(MAX_ATTRIBUTES + 1)}}, "attributes"),
        ({"attributes": {"colour": "red\x00"}}, "attributes"),
        ({"price": 10**20}, "price"),
    ],
)
def test_oversized_products_are_refused_by_field(changes: dict[str, Any], field: str) -> None:
    assert refused_field(Product, {"id": "p1", "title": "Mug"} | changes) == field


@given(st.integers())
def test_any_integer_quantity_is_stored_or_refused_never_crashes(quantity: int) -> None:
    try:
        e = Event.model_validate(event(quantity=quantity))
    except pydantic.ValidationError:
        assert not 1 <= quantity <= MAX_INT32
    else:
        assert e.quantity is not None and 1 <= e.quantity <= MAX_INT32


def test_within_clock_names_the_setting() -> None:
    with pytest.raises(ValueError, match="max_clock_skew_s"):
        within_clock(NOW + timedelta(days=2), 86_400, NOW)
    assert within_clock(NOW, 0, NOW) == NOW
