"""The shop's vocabulary: products, users, events and the event kinds.

These models validate one record each; ingestion, the API and the sample shop all build
them, so one set of rules decides what a valid product or event is.

Example::

    >>> from shopsense.domain import Event, EventKind
    >>> e = Event(event_id="e1", user_id="u1", kind="view", item_id="p1",
    ...           timestamp="2026-01-05T10:00:00Z")
    >>> e.kind is EventKind.VIEW
    True
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from shopsense.limits import (
    DEFAULT_MAX_CLOCK_SKEW_S,
    MAX_ATTRIBUTE_NAME_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MAX_CATEGORY_LEVELS,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    MAX_INT32,
    MAX_LABEL_CHARS,
    MAX_PRICE,
    MAX_QUERY_CHARS,
    MAX_TITLE_CHARS,
    no_nul,
    within_clock,
)

CATEGORY_SEPARATOR = " > "


class EventKind(StrEnum):
    """What a shopper did. The funnel order is impression < view < click < cart < purchase."""

    IMPRESSION = "impression"
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    SEARCH = "search"


#: Default confidence weight of each event kind in interaction matrices (config can override).
DEFAULT_EVENT_WEIGHTS: dict[EventKind, float] = {
    EventKind.IMPRESSION: 0.0,
    EventKind.VIEW: 1.0,
    EventKind.CLICK: 2.0,
    EventKind.ADD_TO_CART: 4.0,
    EventKind.PURCHASE: 8.0,
    EventKind.SEARCH: 0.0,
}


#: Ids are strings; integer ids (JSON, Parquet) are converted, surrounding blanks stripped.
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(no_nul)]
#: Free text: any length the field allows, no NUL characters.
Text = Annotated[str, AfterValidator(no_nul)]


def _in_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC; aware ones are converted to UTC."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # year 1 with a positive offset, year 9999 with a negative
        raise ValueError(f"{value.isoformat()} is out of range") from exc


def _utc(value: datetime, info: ValidationInfo) -> datetime:
    """In UTC, between 1970 and the receiver's clock plus ``max_clock_skew_s`` (from the
    validation context, e.g. ``Event.model_validate(d, context={"max_clock_skew_s": 60})``;
    default one day)."""
    context = info.context if isinstance(info.context, dict) else {}
    skew = float(context.get("max_clock_skew_s", DEFAULT_MAX_CLOCK_SKEW_S))
    return within_clock(_in_utc(value), skew)


#: ISO 8601 or epoch seconds / milliseconds (numbers or numeric strings), stored in UTC,
#: from 1970 up to the clock's now plus the allowed skew.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
#: The same in UTC, without the clock check (a receiver applies its own setting).
UtcInstant = Annotated[datetime, AfterValidator(_in_utc)]


def parse_category(value: Any) -> tuple[str, ...]:
    """Turn ``"Home > Kitchen > Knives"`` (or a list) into ``("Home", "Kitchen", "Knives")``."""
    if value is None:
        return ()
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(">")]
    elif isinstance(value, list | tuple):
        parts = [str(p).strip() for p in value]
    else:
        raise ValueError(f"expected a path like 'Home > Kitchen', got {type(value).__name__}")
    if any(not p for p in parts) and len(parts) > 1:
        raise ValueError(f"empty level in category path {value!r}")
    if len(parts) > MAX_CATEGORY_LEVELS:
        raise ValueError(f"has {len(parts)} levels; at most {MAX_CATEGORY_LEVELS}")
    if any(len(p) > MAX_LABEL_CHARS for p in parts):
        raise ValueError(f"a level is longer than {MAX_LABEL_CHARS} characters")
    for part in parts:
        no_nul(part)
    return tuple(p for p in parts if p)


def _parse_attributes(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"attributes must be a JSON object, got {text[:40]!r}") from exc
    if not isinstance(value, dict):
        raise ValueError("attributes must be a JSON object of name -> value")
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"has {len(value)} attributes; at most {MAX_ATTRIBUTES}")
    for name, item in value.items():
        if len(str(name)) > MAX_ATTRIBUTE_NAME_CHARS:
            raise ValueError(
                f"an attribute name is longer than {MAX_ATTRIBUTE_NAME_CHARS} characters"
            )
        no_nul(str(name))
        if isinstance(item, str):
            if len(item) > MAX_ATTRIBUTE_VALUE_CHARS:
                raise ValueError(
                    f"attribute {str(name)[:40]!r} is longer than "
                    f"{MAX_ATTRIBUTE_VALUE_CHARS} characters"
                )
            no_nul(item)
    return value


Scalar = str | int | float | bool


class Product(BaseModel):
    """One product of the catalog."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    id: Id
    title: Annotated[Text, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
    description: Annotated[Text, Field(max_length=MAX_DESCRIPTION_CHARS)] = ""
    category: Annotated[tuple[str, ...], BeforeValidator(parse_category)] = ()
    brand: Annotated[Text, Field(max_length=MAX_LABEL_CHARS)] | None = None
    price: Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    in_stock: bool = True
    attributes: Annotated[dict[str, Scalar], BeforeValidator(_parse_attributes)] = Field(
        default_factory=dict
    )
    created_at: UtcDatetime | None = None

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("title must not be blank")
        return value

    @field_validator("currency", mode="before")
    @classmethod
    def _upper_currency(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def category_path(self) -> str:
        """The category as one string, ``"Home > Kitchen > Knives"``."""
        return CATEGORY_SEPARATOR.join(self.category)


class User(BaseModel):
    """A shopper. Users are created implicitly by their first event."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    id: Id
    attributes: Annotated[dict[str, Scalar], BeforeValidator(_parse_attributes)] = Field(
        default_factory=dict
    )
    created_at: UtcDatetime | None = None


class Event(BaseModel):
    """One thing a shopper did.

    ``event_id`` is the client's idempotency key: the same id stored twice is kept once.
    ``item_id`` is required for every kind but ``search``, which needs ``query``.
    ``request_id`` and ``position`` attribute impressions and clicks to a served list;
    ``propensity`` is the probability that the serving policy showed this item at this
    position (logged with impressions; off-policy learning and evaluation weigh by it).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    event_id: Id
    user_id: Id
    session_id: Id | None = None
    kind: EventKind
    item_id: Id | None = Field(default=None, validate_default=True)
    query: Annotated[Text, Field(max_length=MAX_QUERY_CHARS)] | None = Field(
        default=None, validate_default=True
    )
    request_id: Id | None = None
    position: Annotated[int, Field(ge=0, le=MAX_INT32)] | None = None
    propensity: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    quantity: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = Field(
        default=None, validate_default=True
    )
    price: Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)] | None = None
    timestamp: UtcDatetime

    @field_validator("item_id")
    @classmethod
    def _item_for_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if value is None and kind is not None and kind is not EventKind.SEARCH:
            raise ValueError(f"a {kind.value} event needs an item_id")
        return value

    @field_validator("query")
    @classmethod
    def _query_for_search(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") is EventKind.SEARCH and (value is None or not value.strip()):
            raise ValueError("a search event needs a non-empty query")
        return value

    @field_validator("quantity")
    @classmethod
    def _quantity_for_purchase(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("kind")
        if value is not None and kind is not None and kind is not EventKind.PURCHASE:
            raise ValueError("only purchase events carry a quantity")
        return value
