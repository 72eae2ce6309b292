"""The shop-facing API: recommendations, similar items, search, events, catalog, privacy.

Read endpoints answer from memory (models, catalog, recent events); write endpoints commit
to the store before they answer. Every list carries a ``request_id`` and per-item
explanations. See ``docs/api.md`` for examples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from shopsense.api.auth import read_access, require_key, state_of
from shopsense.api.schemas import (
    KEYED_ERRORS,
    DeletedOut,
    EventBatchIn,
    EventsOut,
    ProductBatchIn,
    ProductsOut,
    RecommendationsOut,
    SearchOut,
    SuggestOut,
)
from shopsense.api.search import parse_sort
from shopsense.api.state import ServingState, new_request_id
from shopsense.domain import EventKind
from shopsense.errors import ValidationError
from shopsense.ranking.exploration import explore
from shopsense.ranking.ranker import Objective
from shopsense.recommend import SCENARIOS, ItemFilter, Scenario
from shopsense.recommend.explain import matches
from shopsense.recommend.history import RecentEvent, history_triples
from shopsense.store.base import to_micros

if TYPE_CHECKING:
    from shopsense.ranking.stack import Stack
    from shopsense.search import Filters, SearchResult

router = APIRouter(responses=KEYED_ERRORS)

IdPath = Annotated[str, Path(min_length=1, max_length=256)]
Count = Annotated[int, Query(ge=1, le=100, description="how many items")]
CategoryQ = Annotated[
    str | None, Query(max_length=500, description='category path prefix, "Home > Kitchen"')
]
BrandQ = Annotated[str | None, Query(max_length=256)]
PriceQ = Annotated[float | None, Query(ge=0, allow_inf_nan=False)]


def _plain(value: Any) -> Any:
    """numpy scalars (from statistics) as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    body = orjson.dumps(payload, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status, media_type="application/json")


def _rules(
    category: str | None,
    brand: str | None,
    price_min: float | None,
    price_max: float | None,
    in_stock: bool,
) -> ItemFilter:
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ValidationError("request", 0, "price_min", "must not be above price_max")
    return ItemFilter(category or None, brand or None, price_min, price_max, in_stock)


def _check_user(user_id: str) -> str:
    user_id = user_id.strip()
    if not user_id:
        raise ValidationError("request", 0, "user_id", "must not be blank")
    return user_id


#: Scenarios whose lists explore (a share of their slots, propensities logged).
EXPLORING = ("for_you", "session")


def recommendations(
    state: ServingState,
    scenario: Scenario,
    user_id: str,
    n: int,
    rules: ItemFilter,
    item_id: str | None = None,
    exclude_seen: bool | None = None,
    objective: Objective | None = None,
    session_id: str | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """The JSON body of a recommendation list (used by the API and the storefront).

    The greedy ranking is computed (or taken from the result cache), then a ``for_you`` /
    ``session`` list explores: each slot is, with the configured rate, a random candidate
    from below the list. Every shown item carries its propensity, and the list is logged
    as impressions for a known shopper.
    """
    engine = state.engine()
    history = state.history(user_id) if user_id else []
    assigned = state.experiments.assign(user_id) if scenario == "for_you" else None
    policy = assigned[2] if assigned else None
    epsilon = state.config.exploration
    exploring = scenario in EXPLORING and epsilon > 0 and engine.models.stack is not None
    fetch = n + state.config.exploration_pool if exploring else n
    # Everything the answer depends on: a new event, product or model changes the key.
    key = (
        policy,
        engine.models.bundle_id,
        state.catalog.version,
        scenario,
        user_id,
        len(history),
        history[-1].event_id if history else None,
        fetch,
        rules,
        item_id,
        exclude_seen,
        objective,
        explain,
    )
    reusable = state.reusable(user_id)
    cached = state.results.get(key) if reusable else None
    if cached is None:
        result = engine.recommend(
            scenario, user_id, history, fetch, rules, item_id, exclude_seen, policy, objective,
            explained=n, attention=explain,
        )  # fmt: skip
        cached = (result.strategy, result.items, result.attention)
        if reusable:
            state.results.put(key, cached)
    strategy, ranked, attention = cached
    if exploring:
        picked, propensity = explore(np.arange(len(ranked)), n, epsilon, state.rng)
        shown = [ranked[i] for i in picked]
    else:
        shown, propensity = ranked[:n], np.ones(min(n, len(ranked)))
    shown = engine.explain(scenario, history, shown)  # the few explored from the pool
    request_id = new_request_id()
    if state.impressions is not None and user_id:
        state.impressions.served(
            user_id, session_id, request_id, [r.item_id for r in shown], propensity.tolist()
        )
    body = {
        "request_id": request_id,
        "user_id": user_id,
        "scenario": scenario,
        "strategy": strategy,
        "bundle": engine.models.bundle_id,
        "experiment": {"name": assigned[0], "variant": assigned[1]} if assigned else None,
        "items": [
            {**state.item_out(r.item_id, r.score, r.reason), "propensity": float(p)}
            for r, p in zip(shown, propensity, strict=True)
        ],
    }
    if explain:
        body["attention"] = [
            {"item_id": item, "title": product.title if product else item, "weight": w}
            for item, w in attention
            for product in [state.catalog.get(item)]
        ] or None
    return body


class RecommendationQuery(BaseModel):
    """The query parameters of ``GET /recommendations/{user_id}`` (validated in one go)."""

    scenario: Scenario = Field("for_you", description=" | ".join(SCENARIOS))
    n: int = Field(10, ge=1, le=100, description="how many items")
    item_id: str | None = Field(None, max_length=256, description="anchor item")
    category: str | None = Field(
        None, max_length=500, description='category path prefix, "Home > Kitchen"'
    )
    brand: str | None = Field(None, max_length=256)
    price_min: float | None = Field(None, ge=0, allow_inf_nan=False)
    price_max: float | None = Field(None, ge=0, allow_inf_nan=False)
    in_stock: bool = True
    exclude_seen: bool | None = Field(
        None,
        description="leave out products the shopper engaged with (default: the learned "
        "re-consumption rule, per category)",
    )
    objective: Literal["click", "conversion", "revenue"] | None = Field(
        None, description="what the ranker orders for (default: the bundle's, conversion)"
    )
    session_id: str | None = Field(None, max_length=256, description="logged with the list")
    explain: bool = Field(
        False,
        description="also return what the answer rests on: for a list from a sequence model "
        "(SASRec), how much each history item weighed in its prediction (attention)",
    )


@router.get(
    "/recommendations/{user_id}",
    response_model=RecommendationsOut,
    dependencies=[Depends(read_access)],
    tags=["recommend"],
)
async def get_recommendations(
    request: Request, user_id: IdPath, query: Annotated[RecommendationQuery, Query()]
) -> Response:
    """Recommendations for a shopper; unknown shoppers get trending items."""
    q = query
    rules = _rules(q.category, q.brand, q.price_min, q.price_max, q.in_stock)
    state = state_of(request)
    body = recommendations(
        state,
        q.scenario,
        _check_user(user_id),
        q.n,
        rules,
        q.item_id,
        q.exclude_seen,
        q.objective,
        q.session_id,
        q.explain,
    )
    return json_response(body)


@router.get(
    "/items/{item_id}/similar",
    response_model=RecommendationsOut,
    dependencies=[Depends(read_access)],
    tags=["recommend"],
)
async def get_similar(
    request: Request,
    item_id: IdPath,
    n: Count = 10,
    kind: Literal["similar", "bought_together"] = "similar",
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    category: CategoryQ = None,
    brand: BrandQ = None,
    price_min: PriceQ = None,
    price_max: PriceQ = None,
    in_stock: bool = True,
) -> Response:
    """Items similar to a product (``kind=bought_together``: often bought with it)."""
    state = state_of(request)
    if item_id not in state.catalog:
        return json_response({"error": f"unknown product id {item_id!r}", "field": "item_id"}, 404)
    rules = _rules(category, brand, price_min, price_max, in_stock)
    body = recommendations(
        state,
        kind,
        user_id or "",
        n,
        rules,
        item_id=item_id,
        exclude_seen=None if user_id else False,
    )
    return json_response(body)


@router.get(
    "/search", response_model=SearchOut, dependencies=[Depends(read_access)], tags=["search"]
)
def get_search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500, description="the query")],
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    category: Annotated[list[str] | None, Query(max_length=20)] = None,
    brand: Annotated[list[str] | None, Query(max_length=20)] = None,
    price_min: PriceQ = None,
    price_max: PriceQ = None,
    in_stock: bool | None = None,
    sort: str = "relevance",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    facets: bool = True,
    session_id: Annotated[str | None, Query(max_length=256)] = None,
    explain: bool = False,
) -> Response:
    """Hybrid product search with filters, facets and personal re-ranking; ``explain=true``
    adds each result's ``why`` (matched words, BM25, semantic similarity, the shopper's
    affinity, the feedback ranker's move; see docs/api.md).

    A plain ``def``: the query encoder and the full-text engine release the GIL, so
    searches run in the thread pool beside other requests.
    """
    from shopsense.search import Filters

    state = state_of(request)
    _rules(None, None, price_min, price_max, True)
    filters = Filters(
        categories=tuple(category or ()),
        brands=tuple(brand or ()),
        price_min=price_min,
        price_max=price_max,
        in_stock=in_stock,
    )
    result, request_id = run_search(
        state, q, user_id, filters, sort, page, page_size, facets, session_id, explain
    )
    items = [
        {
            **state.item_out(h.id, h.score, h.explanation or matches(q)),
            "title": h.title,
            "propensity": 1.0,
            **({"why": h.why} if explain else {}),
        }
        for h in result.items
    ]
    body = {
        "request_id": request_id,
        "query": result.query,
        "total": result.total,
        "page": result.page,
        "page_size": result.page_size,
        "sort": result.sort,
        "items": items,
        "facets": {k: [list(p) for p in v] for k, v in result.facets.items()},
        "understood": result.understood,
        "personalized": result.personalized,
    }
    return json_response(body)


def run_search(
    state: ServingState,
    q: str,
    user_id: str | None,
    filters: Filters,
    sort: str = "relevance",
    page: int = 1,
    page_size: int = 20,
    facets: bool = True,
    session_id: str | None = None,
    explain: bool = False,
) -> tuple[SearchResult, str]:
    """One page of search results and its request id (used by the API and the storefront).

    A relevance-sorted page is re-ordered by the bundle's feedback ranker for the shopper
    (with the query as context), when it has one; the page is logged as impressions.
    """
    engine = state.search.engine()
    history = state.history(user_id) if user_id else []
    key = (
        "search",
        state.models.bundle_id,
        state.catalog.version,
        q,
        user_id if history else None,
        len(history),
        history[-1].event_id if history else None,
        repr(filters),  # its attribute filter is a dict: not hashable
        sort,
        page,
        page_size,
        facets,
        explain,
    )
    reusable = state.reusable(user_id)
    result = state.results.get(key) if reusable else None
    if result is None:
        items = [e.item_id for e in history if e.item_id and e.kind is not EventKind.IMPRESSION]
        result = engine.search(
            q,
            user_id=user_id,
            filters=filters,
            sort=parse_sort(sort),
            page=page,
            page_size=page_size,
            facets=facets,
            history=items or None,
            explain=explain,
        )
        live = state.models.engine
        if live is not None and result.sort == "relevance" and user_id:
            result = rerank_hits(live.models.stack, result, history, q)
        if reusable:
            state.results.put(key, result)
    request_id = new_request_id()
    if state.impressions is not None and user_id and result.items:
        state.impressions.served(
            user_id, session_id, request_id, result.ids, [1.0] * len(result.items), query=q
        )
    return result, request_id


def rerank_hits(
    stack: Stack | None, result: SearchResult, history: Sequence[RecentEvent], query: str
) -> SearchResult:
    """``result`` with its page in the stack's order for the shopper (unchanged without a
    feedback ranker)."""
    if stack is None or stack.ranker is None or len(result.items) < 2:
        return result
    rows = stack.table.indices(result.ids)
    if (rows < 0).any():
        return result
    state = stack.state(history_triples(history))
    now = to_micros(history[-1].timestamp) if history else 0
    ranked = stack.rerank(state, rows, now, query=query)
    position = {int(r): k for k, r in enumerate(rows)}
    items = []
    for to, (row, score) in enumerate(zip(ranked.items, ranked.scores, strict=True)):
        hit = result.items[position[int(row)]]
        if hit.why is not None:  # explained: where the feedback ranker moved it
            moved = {"from": position[int(row)] + 1, "to": to + 1, "score": float(score)}
            hit = dataclasses.replace(hit, why={**hit.why, "feedback_ranker": moved})
        items.append(hit)
    return dataclasses.replace(result, items=items)


@router.get(
    "/suggest", response_model=SuggestOut, dependencies=[Depends(read_access)], tags=["search"]
)
def get_suggest(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    n: Annotated[int, Query(ge=1, le=20)] = 8,
) -> Response:
    """Autocomplete: completions of what the shopper is typing."""
    suggestions = state_of(request).search.engine().suggest(q, n)
    return json_response({"request_id": new_request_id(), "prefix": q, "suggestions": suggestions})


@router.post(
    "/events", response_model=EventsOut, dependencies=[Depends(require_key)], tags=["data"]
)
def post_events(request: Request, batch: EventBatchIn) -> Response:
    """Store up to 1000 events in one transaction; answered only once they are committed."""
    state = state_of(request)
    if len(batch.events) > state.config.max_batch:
        raise ValidationError("request", 0, "events", f"at most {state.config.max_batch} per batch")
    events = []
    for i, event in enumerate(batch.events):
        try:
            events.append(event.to_event(max_clock_skew_s=state.settings.max_clock_skew_s))
        except ValueError as exc:
            raise ValidationError("request", 0, f"events[{i}].timestamp", str(exc)) from exc
    state.check_items(events)
    stored = state.record_events(events)
    return json_response(
        {"request_id": new_request_id(), "accepted": len(events), "stored": stored}
    )


@router.put(
    "/catalog/products",
    response_model=ProductsOut,
    dependencies=[Depends(require_key)],
    tags=["data"],
)
def put_products(request: Request, batch: ProductBatchIn) -> Response:
    """Insert or replace products; searchable and filterable as soon as this returns."""
    state = state_of(request)
    if len(batch.products) > state.config.max_batch:
        raise ValidationError(
            "request", 0, "products", f"at most {state.config.max_batch} per batch"
        )
    searchable = state.upsert_products(batch.products)
    body = {
        "request_id": new_request_id(),
        "upserted": len(batch.products),
        "searchable": searchable,
    }
    return json_response(body)


@router.delete(
    "/users/{user_id}",
    response_model=DeletedOut,
    dependencies=[Depends(require_key)],
    tags=["data"],
)
def delete_user(request: Request, user_id: IdPath) -> Response:
    """Privacy: remove the shopper's events and learned state; answers stop using them."""
    removed = state_of(request).delete_user(user_id)
    return json_response(
        {"request_id": new_request_id(), "user_id": user_id, "deleted_events": removed}
    )
