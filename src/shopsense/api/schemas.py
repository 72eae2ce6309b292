"""Request and response bodies of the HTTP API (they make the OpenAPI docs at ``/docs``).

Example::

    >>> batch = EventBatchIn.model_validate({"events": [
    ...     {"event_id": "e1", "user_id": "u1", "kind": "view", "item_id": "p1"}]})
    >>> batch.events[0].to_event().kind.value
    'view'
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shopsense.domain import Event, EventKind, Id, Product, UtcInstant
from shopsense.limits import DEFAULT_MAX_CLOCK_SKEW_S, within_clock

#: Most records in one request body (``SHOPSENSE_MAX_BATCH`` may lower it).
MAX_BATCH = 10_000


class EventIn(Event):
    """An event as clients send it: ``event_id`` and ``timestamp`` may be left out.

    Without ``event_id`` one is derived from the content (re-sending the same event is then
    still stored once); without ``timestamp`` the server's clock is used.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    event_id: Id | None = None  # type: ignore[assignment]
    timestamp: UtcInstant | None = None  # type: ignore[assignment]

    def to_event(
        self, now: datetime | None = None, max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S
    ) -> Event:
        """The event to store; ``ValueError`` if its timestamp is before 1970 or more than
        ``max_clock_skew_s`` ahead of ``now`` (the server's setting, not the default's)."""
        data = dict(self.__dict__)
        now = now or datetime.now(UTC)
        if data["timestamp"] is None:
            data["timestamp"] = now
        else:
            within_clock(data["timestamp"], max_clock_skew_s, now)
        if data["event_id"] is None:
            content = "|".join(str(data[k]) for k in sorted(data) if k != "event_id")
            digest = hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:24]
            data["event_id"] = "h:" + digest
        # Every field was validated by EventIn's rules, which are Event's.
        return Event.model_construct(**data)


class EventBatchIn(BaseModel):
    """``POST /events``: up to 1000 events, stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


class EventsOut(BaseModel):
    request_id: str
    accepted: int = Field(description="events in the request, all committed to the store")
    stored: int = Field(description="events that were new (the rest were already stored)")


class ProductBatchIn(BaseModel):
    """``PUT /catalog/products``: insert or replace up to 1000 products at once."""

    model_config = ConfigDict(extra="forbid")

    products: Annotated[list[Product], Field(min_length=1, max_length=MAX_BATCH)]


class ProductsOut(BaseModel):
    request_id: str
    upserted: int
    searchable: bool = Field(description="the search index holds the new versions")


class ItemOut(BaseModel):
    """One recommended or found product and why it is shown."""

    item_id: str
    score: float
    title: str
    category: str
    brand: str | None = None
    price: float | None = None
    in_stock: bool = True
    explanation: str = Field(description='why: "because you viewed X", "popular in Y", ...')
    why: dict[str, Any] | None = Field(
        default=None,
        description="search with explain=true: matched_terms, lexical (BM25), semantic "
        "(cosine), understood, personal (affinity_z, weight), feedback_ranker (from, to, "
        "score), ranker (score, expected, contributions) where each applies",
    )
    propensity: float = Field(
        1.0,
        description="the probability the serving policy showed this product at this position "
        "(below 1 where the list explored); logged with the list's impressions",
    )


class AttentionOut(BaseModel):
    """One history item and how much a sequence model's prediction attended to it."""

    item_id: str
    title: str
    weight: float = Field(description="share of the attention (the list's weights sum to 1)")


class RecommendationsOut(BaseModel):
    request_id: str = Field(description="send it back with impressions and clicks")
    user_id: str | None = None
    scenario: str
    strategy: str = Field(description="what answered: a model name, or trending on fallback")
    bundle: str
    experiment: dict[str, str] | None = Field(
        default=None, description="the A/B experiment and variant that served this list"
    )
    items: list[ItemOut]
    attention: list[AttentionOut] | None = Field(
        default=None,
        description="with explain=true, for a list a sequence model (SASRec) answered: the "
        "shopper's history items by the attention its prediction paid them, largest first",
    )


class SearchOut(BaseModel):
    request_id: str
    query: str
    total: int
    page: int
    page_size: int
    sort: str
    items: list[ItemOut]
    facets: dict[str, list[tuple[str, int]]]
    understood: list[str]
    personalized: bool


class SuggestOut(BaseModel):
    request_id: str
    prefix: str
    suggestions: list[str]


class DeletedOut(BaseModel):
    request_id: str
    user_id: str
    deleted_events: int


class TrainOut(BaseModel):
    job: dict[str, Any]


class HealthOut(BaseModel):
    status: str
    bundle: str | None
    products: int
    search: str
    uptime_s: float
    #: Why the newest published bundle could not be loaded (the one named serves instead).
    bundle_error: str | None = None


class ErrorOut(BaseModel):
    """Every 4xx/5xx body: ``field`` names the offending input."""

    error: str
    field: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


def error(description: str) -> dict[str, Any]:
    """An OpenAPI response entry with the error body."""
    return {"model": ErrorOut, "description": description}


#: The errors every endpoint may answer (documented in the OpenAPI spec).
ERRORS: dict[int | str, dict[str, Any]] = {
    404: error("an unknown product, shopper or bundle in the path"),
    413: error("the body is larger than SHOPSENSE_MAX_BODY_BYTES"),
    422: error("invalid input; `field` names it"),
    503: error("no models yet, search still building, or the store is away (Retry-After)"),
}
#: Also the key's errors, for endpoints that need it.
KEYED_ERRORS: dict[int | str, dict[str, Any]] = ERRORS | {401: error("missing or wrong X-API-Key")}


def kinds() -> list[str]:
    return [k.value for k in EventKind]
