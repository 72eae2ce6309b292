"""The storefront: home, search, product page, cart and checkout, rendered by the server.

A shopper is a signed cookie (``ss_uid``) with a signed session cookie (``ss_sid``); see
:mod:`shopsense.api.shoppers` (``/?as=U0042`` browses as a sample-shop shopper on a demo
server only). Every action records real events: the page script posts views, clicks and
searches to ``/shop/events`` (bound to the cookie's shopper, so no API key is exposed); the
cart and checkout record ``add_to_cart`` and ``purchase`` events on the server. Every
write carries the session's CSRF token and counts against the client's rate limit.
Recommendation links carry their ``request_id`` and position, so clicks are attributed to
the list that showed them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from shopsense.api.auth import state_of
from shopsense.api.routes import json_response, recommendations, run_search
from shopsense.api.shoppers import SID, UID, Shopper
from shopsense.api.state import ServingState, new_request_id
from shopsense.domain import Event, EventKind, Id, Text
from shopsense.errors import ShopSenseError
from shopsense.recommend import ItemFilter

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
ANY = ItemFilter()


class ShopRefusedError(Exception):
    """A storefront request that may not act (403 / 429), answered as JSON."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def response(self) -> Response:
        response = json_response({"error": str(self), "field": None}, self.status)
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


class ShopEvent(BaseModel):
    """What the page script may record for its own shopper."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    kind: Literal["impression", "view", "click", "search"]
    item_id: Id | None = None
    query: Annotated[Text, Field(max_length=500)] | None = None
    request_id: Id | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None


class ShopEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[ShopEvent], Field(min_length=1, max_length=100)]
    #: The page's CSRF token (``<meta name="csrf">``).
    csrf: str | None = None


def viewer(request: Request) -> Shopper:
    """Who a page is shown to: the signed cookies' shopper (new when absent or forged);
    ``?as=`` switches shopper on a demo server (``ShopRefusedError`` 403 elsewhere)."""
    chosen = request.query_params.get("as")
    try:
        return state_of(request).shoppers.identify(dict(request.cookies), chosen)
    except (PermissionError, ValueError) as exc:
        raise ShopRefusedError(403, str(exc)) from exc


def writer(request: Request, token: str | None) -> Shopper:
    """Who a write acts for: the signed cookies' shopper only (never ``?as=``), with the
    session's CSRF token, within the client's rate limit (429 with ``Retry-After``)."""
    shoppers = state_of(request).shoppers
    client = request.client.host if request.client else "unknown"
    wait = shoppers.retry_after(client)
    if wait is not None:
        raise ShopRefusedError(429, f"too many storefront writes; retry in {wait} s", wait)
    shopper = shoppers.identify(dict(request.cookies))
    if not shoppers.csrf_ok(shopper, token):
        raise ShopRefusedError(403, "missing or wrong CSRF token: reload the page and try again")
    return shopper


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
    shopper: Shopper | None = None,
) -> Response:
    shopper = shopper or viewer(request)
    state = state_of(request)
    context = {
        "user_id": shopper.user_id,
        "session_id": shopper.session_id,
        "csrf": state.shoppers.csrf_token(shopper),
        "cart_count": sum(state.store.carts.get(shopper.user_id).values()),
        "categories": state.catalog.categories(),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if shopper.fresh:
        signed_user = state.shoppers.sign_user(shopper.user_id)
        signed_session = state.shoppers.sign_session(shopper.session_id)
        response.set_cookie(UID, signed_user, max_age=365 * 86_400, samesite="lax", httponly=True)
        response.set_cookie(SID, signed_session, samesite="lax", httponly=True)  # browser session
    return response


def _list(
    state: ServingState, scenario: str, uid: str, sid: str, n: int, **kw: Any
) -> dict[str, Any]:
    try:
        return recommendations(state, scenario, uid, n, ANY, session_id=sid, **kw)  # type: ignore[arg-type]
    except ShopSenseError as exc:
        return {"request_id": "", "items": [], "error": str(exc), "scenario": scenario}


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    state = state_of(request)
    who = viewer(request)
    uid, sid = who.user_id, who.session_id
    for_you = _list(state, "for_you", uid, sid, 8)
    trending = _list(state, "trending", uid, sid, 8, exclude_seen=False)
    return page(request, "home.html", {"for_you": for_you, "trending": trending}, shopper=who)


@router.get("/shop/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=500)] = "",
    category: Annotated[str | None, Query(max_length=500)] = None,
    brand: Annotated[str | None, Query(max_length=256)] = None,
    sort: str = "relevance",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100)] = 1,
) -> Response:
    from shopsense.search import SORTS, Filters

    state = state_of(request)
    who = viewer(request)
    uid, sid = who.user_id, who.session_id
    context: dict[str, Any] = {"q": q, "category": category, "brand": brand, "sort": sort}
    context |= {"sorts": SORTS, "result": None, "error": None, "request_id": new_request_id()}
    if q.strip():
        try:
            filters = Filters(
                categories=(category,) if category else (), brands=(brand,) if brand else ()
            )
            result, request_id = run_search(
                state,
                q,
                uid,
                filters,
                sort if sort in SORTS else "relevance",
                page_number,
                12,
                session_id=sid,
            )
            context["result"], context["request_id"] = result, request_id
        except ShopSenseError as exc:
            context["error"] = str(exc)
    return page(request, "search.html", context, shopper=who)


@router.get("/product/{item_id}", response_class=HTMLResponse)
def product_page(
    request: Request, item_id: str, why: Annotated[str, Query(max_length=300)] = ""
) -> Response:
    state = state_of(request)
    product = state.catalog.get(item_id)
    if product is None:
        return page(request, "missing.html", {"item_id": item_id}, status=404)
    who = viewer(request)
    uid, sid = who.user_id, who.session_id
    similar = _list(state, "similar", uid, sid, 6, item_id=item_id)
    together = _list(state, "bought_together", uid, sid, 6, item_id=item_id)
    context = {"product": product, "why": why, "similar": similar, "together": together}
    return page(request, "product.html", context, shopper=who)


@router.post("/shop/events")
def shop_events(request: Request, batch: ShopEvents) -> Response:
    """Events from the page script, for the cookie's shopper only."""
    state = state_of(request)
    who = writer(request, batch.csrf)
    uid, sid = who.user_id, who.session_id
    now = datetime.now(UTC)
    events = [
        Event(
            event_id=f"{uid}:{e.event_id}",
            user_id=uid,
            session_id=sid,
            kind=EventKind(e.kind),
            item_id=e.item_id,
            query=e.query,
            request_id=e.request_id,
            position=e.position,
            timestamp=now,
        )
        for e in batch.events
    ]
    state.check_items(events)
    stored = state.record_events(events)
    return json_response({"accepted": len(events), "stored": stored})


def _record(
    state: ServingState, uid: str, sid: str, kind: EventKind, items: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    events = []
    for item_id, quantity in items.items():
        product = state.catalog.get(item_id)
        events.append(
            Event(
                event_id=f"{uid}:{kind.value}:{uuid.uuid4().hex}",
                user_id=uid,
                session_id=sid,
                kind=kind,
                item_id=item_id,
                quantity=quantity if kind is EventKind.PURCHASE else None,
                price=product.price if product else None,
                timestamp=now,
            )
        )
    state.record_events(events)


@router.post("/cart/add")
def cart_add(
    request: Request,
    item_id: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    state = state_of(request)
    who = writer(request, csrf)
    if item_id not in state.catalog:
        return json_response({"error": f"unknown product id {item_id!r}", "field": "item_id"}, 404)
    uid, sid = who.user_id, who.session_id
    state.store.carts.add(uid, item_id)
    _record(state, uid, sid, EventKind.ADD_TO_CART, {item_id: 1})
    return RedirectResponse("/cart", status_code=303)


@router.get("/cart", response_class=HTMLResponse)
def cart_page(request: Request) -> Response:
    state = state_of(request)
    who = viewer(request)
    uid, sid = who.user_id, who.session_id
    cart = state.store.carts.get(uid)
    lines = [(state.catalog.get(i), q) for i, q in cart.items()]
    total = sum((p.price or 0.0) * q for p, q in lines if p is not None)
    together = _list(state, "bought_together", uid, sid, 6) if cart else {"items": []}
    context = {"lines": lines, "total": total, "together": together}
    return page(request, "cart.html", context, shopper=who)


@router.post("/checkout", response_class=HTMLResponse)
def checkout(
    request: Request, csrf: Annotated[str | None, Form(max_length=100)] = None
) -> Response:
    state = state_of(request)
    who = writer(request, csrf)
    uid, sid = who.user_id, who.session_id
    cart = state.store.carts.take(uid)
    if cart:
        _record(state, uid, sid, EventKind.PURCHASE, cart)
    bought = [(state.catalog.get(i), q) for i, q in cart.items()]
    return page(request, "thanks.html", {"bought": bought}, shopper=who)


async def refused(request: Request, exc: Exception) -> Response:
    """The app's handler of :class:`ShopRefusedError`."""
    assert isinstance(exc, ShopRefusedError)
    return exc.response()
