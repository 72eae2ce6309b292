"""The storefront's cart: add, change a quantity, remove a line, check out.

Carts live in the store (:class:`~shopsense.store.base.Carts`). Every change is a form
POST with the page's CSRF token, answered by a redirect to ``/cart`` (so it works without
the page script, which only submits a changed quantity at once). Adding a product, or
raising a quantity, records an ``add_to_cart`` event; checkout records a ``purchase`` per
line with its quantity. Lowering a quantity or removing a line records nothing: there is
no event kind for it, and the lists learn from what shoppers do buy.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.api.auth import state_of
from shopsense.api.cards import money
from shopsense.api.pictures import picture_url
from shopsense.api.routes import json_response
from shopsense.api.state import ServingState
from shopsense.api.storefront import page, shown_list, viewer, writer
from shopsense.domain import Event, EventKind

router = APIRouter(include_in_schema=False)
#: The most of one product a cart line holds.
MAX_QUANTITY = 99

ItemForm = Annotated[str, Form(max_length=256)]
CsrfForm = Annotated[str | None, Form(max_length=100)]


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


def _unknown(item_id: str) -> Response:
    return json_response({"error": f"unknown product id {item_id!r}", "field": "item_id"}, 404)


@router.post("/cart/add")
def cart_add(request: Request, item_id: ItemForm, csrf: CsrfForm = None) -> Response:
    state = state_of(request)
    who = writer(request, csrf)
    if item_id not in state.catalog:
        return _unknown(item_id)
    uid, sid = who.user_id, who.session_id
    if state.store.carts.get(uid).get(item_id, 0) < MAX_QUANTITY:
        state.store.carts.add(uid, item_id)
    _record(state, uid, sid, EventKind.ADD_TO_CART, {item_id: 1})
    return RedirectResponse("/cart", status_code=303)


@router.post("/cart/update")
def cart_update(
    request: Request,
    item_id: ItemForm,
    quantity: Annotated[int, Form(ge=0, le=MAX_QUANTITY)],
    csrf: CsrfForm = None,
) -> Response:
    """Set a line's quantity; 0 removes the line."""
    state = state_of(request)
    who = writer(request, csrf)
    uid, sid = who.user_id, who.session_id
    before = state.store.carts.get(uid).get(item_id, 0)
    if item_id not in state.catalog and quantity > 0:
        return _unknown(item_id)
    state.store.carts.set(uid, item_id, quantity)
    if quantity > before:
        _record(state, uid, sid, EventKind.ADD_TO_CART, {item_id: quantity - before})
    return RedirectResponse("/cart", status_code=303)


def _lines(state: ServingState, cart: dict[str, int]) -> tuple[list[dict[str, Any]], str]:
    """The cart's lines as the page shows them, and the total (one per currency)."""
    lines = []
    totals: dict[str, float] = defaultdict(float)
    for item_id, quantity in cart.items():
        product = state.catalog.get(item_id)
        if product is None:  # removed from the catalog since
            continue
        line: dict[str, Any] = {"product": product, "quantity": quantity}
        line["picture"] = picture_url(product)
        if product.price is not None:
            line["unit"] = money(product.price, product.currency)
            line["amount"] = money(product.price * quantity, product.currency)
            totals[product.currency] += product.price * quantity
        lines.append(line)
    total = " + ".join(money(amount, currency) for currency, amount in totals.items())
    return lines, total or money(0.0)


@router.get("/cart", response_class=HTMLResponse)
def cart_page(request: Request) -> Response:
    state = state_of(request)
    who = viewer(request)
    uid, sid = who.user_id, who.session_id
    cart = state.store.carts.get(uid)
    lines, total = _lines(state, cart)
    together = shown_list(state, "bought_together", uid, sid, 6) if cart else {"items": []}
    context = {"lines": lines, "total": total, "together": together, "most": MAX_QUANTITY}
    return page(request, "cart.html", context, shopper=who)


@router.post("/checkout", response_class=HTMLResponse)
def checkout(request: Request, csrf: CsrfForm = None) -> Response:
    state = state_of(request)
    who = writer(request, csrf)
    uid, sid = who.user_id, who.session_id
    cart = state.store.carts.take(uid)
    if cart:
        _record(state, uid, sid, EventKind.PURCHASE, cart)
    lines, total = _lines(state, cart)
    return page(request, "thanks.html", {"bought": lines, "total": total}, shopper=who)
