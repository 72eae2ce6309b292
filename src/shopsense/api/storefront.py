"""The storefront: home and product pages, the page script's events, product pictures.

Search lives in :mod:`shopsense.api.shop_search`, the cart and checkout in
:mod:`shopsense.api.shop_cart`; this module has what they share (who the shopper is, who
may write, how a page is rendered). A shopper is a signed cookie (``ss_uid``) with a signed
session cookie (``ss_sid``); see :mod:`shopsense.api.shoppers` (``/?as=U0042`` browses as
a sample-shop shopper on a demo server only). Every action records real events: the page
script posts views, clicks and searches to ``/shop/events`` (bound to the cookie's
shopper, so no API key is exposed); the cart and checkout record ``add_to_cart`` and
``purchase`` events on the server. Every write carries the session's CSRF token and counts
against the client's rate limit. Recommendation links carry their ``request_id`` and
position, so clicks are attributed to the list that showed them.

Pages show no model names: lists are titled for the shopper, and the home page shows a
product once (trending leaves out what "Recommended for you" already shows).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from shopsense.api.auth import state_of
from shopsense.api.cards import card, money
from shopsense.api.pictures import picture_url, product_svg
from shopsense.api.routes import json_response, recommendations
from shopsense.api.shoppers import SID, UID, Shopper
from shopsense.api.state import ServingState
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


def shown_list(
    state: ServingState, scenario: str, uid: str, sid: str, n: int, **kw: Any
) -> dict[str, Any]:
    """A served list with its items as cards (an empty list, with the reason, on errors)."""
    try:
        data = recommendations(state, scenario, uid, n, ANY, session_id=sid, **kw)  # type: ignore[arg-type]
    except ShopSenseError as exc:
        return {"request_id": "", "items": [], "error": str(exc), "scenario": scenario}
    data["items"] = [card(item, state.catalog.get(item["item_id"])) for item in data["items"]]
    return data


def engaged(state: ServingState, user_id: str) -> bool:
    """Whether the shopper has done anything that personal lists learn from."""
    return any(
        e.item_id is not None and e.kind not in (EventKind.IMPRESSION, EventKind.SEARCH)
        for e in state.history(user_id)
    )


def trending_besides(
    state: ServingState, uid: str, sid: str, n: int, shown: list[dict[str, Any]]
) -> dict[str, Any]:
    """Trending, without the products already ``shown`` above it; its impressions are
    logged for what it shows (asked for anonymously, then logged for the shopper)."""
    taken = {item["item_id"] for item in shown}
    data = shown_list(state, "trending", "", sid, n + len(taken), exclude_seen=False)
    data["items"] = [item for item in data["items"] if item["item_id"] not in taken][:n]
    if state.impressions is not None and data["items"]:
        ids = [item["item_id"] for item in data["items"]]
        state.impressions.served(uid, sid, data["request_id"], ids, [1.0] * len(ids))
    return data


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """A shopper with history sees "Recommended for you", then trending products not in
    it; a new shopper (for whom both would be the same) sees trending only."""
    state = state_of(request)
    who = viewer(request)
    uid, sid = who.user_id, who.session_id
    for_you = shown_list(state, "for_you", uid, sid, 8) if engaged(state, uid) else None
    trending = trending_besides(state, uid, sid, 8, for_you["items"] if for_you else [])
    return page(request, "home.html", {"for_you": for_you, "trending": trending}, shopper=who)


@router.get("/shop/picture/{item_id}.svg")
def picture(request: Request, item_id: str) -> Response:
    """The product's drawn picture (:mod:`shopsense.api.pictures`)."""
    product = state_of(request).catalog.get(item_id)
    if product is None:
        return json_response({"error": f"unknown product id {item_id!r}", "field": "item_id"}, 404)
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(product_svg(product), media_type="image/svg+xml", headers=headers)


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
    similar = shown_list(state, "similar", uid, sid, 6, item_id=item_id)
    together = shown_list(state, "bought_together", uid, sid, 6, item_id=item_id)
    context = {
        "product": product,
        "picture": picture_url(product),
        "price": money(product.price, product.currency) if product.price is not None else None,
        "why": why,
        "similar": similar,
        "together": together,
    }
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


async def refused(request: Request, exc: Exception) -> Response:
    """The app's handler of :class:`ShopRefusedError`."""
    assert isinstance(exc, ShopRefusedError)
    return exc.response()
