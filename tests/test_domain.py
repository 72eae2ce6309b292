from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsense.domain import Event, EventKind, Product


def make(**fields: object) -> Event:
    base: dict[str, object] = {
        "event_id": "e1",
        "user_id": "u1",
        "kind": "view",
        "item_id": "p1",
        "timestamp": "2026-01-05T10:00:00Z",
    }
    base.update(fields)
    return Event.model_validate(base)


def field_of(exc: pytest.ExceptionInfo[pydantic.ValidationError]) -> str:
    return ".".join(str(p) for p in exc.value.errors()[0]["loc"])


def test_timestamps_become_utc() -> None:
    paris = make(timestamp="2026-01-05T11:00:00+01:00")
    assert paris.timestamp == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert make(timestamp="2026-01-05T10:00:00").timestamp.tzinfo is UTC
    assert make(timestamp="1767607200").timestamp == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert make(timestamp="1767607200000").timestamp == datetime(2026, 1, 5, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "like"}, "kind"),
        ({"item_id": None}, "item_id"),
        ({"kind": "search", "item_id": None}, "query"),
        ({"quantity": 2}, "quantity"),
        ({"kind": "purchase", "quantity": 0}, "quantity"),
        ({"position": -1}, "position"),
        ({"price": -5}, "price"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"user_id": ""}, "user_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_events_name_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as exc:
        make(**fields)
    assert field_of(exc) == field


def test_search_needs_no_item() -> None:
    e = make(kind="search", item_id=None, query="red shoes")
    assert e.kind is EventKind.SEARCH


def test_product_parses_category_attributes_and_flags() -> None:
    p = Product.model_validate(
        {
            "id": 12,
            "title": " Chef knife ",
            "category": "Home > Kitchen > Knives",
            "attributes": '{"material": "steel", "length_cm": 20}',
            "in_stock": "no",
            "currency": "eur",
        }
    )
    assert p.id == "12"
    assert p.title == "Chef knife"
    assert p.category == ("Home", "Kitchen", "Knives")
    assert p.category_path == "Home > Kitchen > Knives"
    assert p.attributes == {"material": "steel", "length_cm": 20}
    assert p.in_stock is False
    assert p.currency == "EUR"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "  "}, "title"),
        ({"price": "free"}, "price"),
        ({"price": "nan"}, "price"),
        ({"currency": "euro"}, "currency"),
        ({"attributes": "[1, 2]"}, "attributes"),
        ({"attributes": "{broken"}, "attributes"),
        ({"category": "Home >  > Knives"}, "category"),
    ],
)
def test_invalid_products_name_the_field(fields: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"id": "p", "title": "t"}
    base.update(fields)
    with pytest.raises(pydantic.ValidationError) as exc:
        Product.model_validate(base)
    assert field_of(exc) == field


@given(
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
    seconds=st.integers(min_value=0, max_value=1_700_000_000),
)
def test_any_offset_gives_the_same_instant_in_utc(offset_minutes: int, seconds: int) -> None:
    instant = datetime.fromtimestamp(seconds, tz=UTC)
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    parsed = make(timestamp=local.isoformat()).timestamp
    assert parsed == instant
    assert parsed.utcoffset() == timedelta(0)


@given(
    category=st.lists(
        st.text(min_size=1, max_size=200)
        .map(str.strip)
        .filter(lambda s: s and ">" not in s and "\x00" not in s),
        min_size=1,
        max_size=4,
    )
)
def test_category_path_round_trips(category: list[str]) -> None:
    p = Product(id="p", title="t", category=" > ".join(category))
    assert list(p.category) == category
    assert Product(id="p", title="t", category=p.category_path).category == p.category
