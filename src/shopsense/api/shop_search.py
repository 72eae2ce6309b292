"""The storefront's search: the results page and the suggestions under the search box.

``/shop/search`` shows one page of results (query words highlighted in titles), every
facet as links that keep the rest of the search (:mod:`shopsense.api.shop_browse`),
pages to step through, and "Did you mean ..." when a query word is not in the catalog
but a close one is (:mod:`shopsense.search.spelling`). A category or facet alone, with no
query, browses. ``/shop/suggest?q=runn`` answers the page script as the shopper types:
completed queries and matching products, from the search index (no API key: it is the
shop's own page; ``/suggest`` is the API's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shopsense.api.auth import state_of
from shopsense.api.cards import card, money, query_terms
from shopsense.api.pictures import picture_url
from shopsense.api.routes import json_response, run_search
from shopsense.api.shop_browse import PAGE_SIZE, Browse, pages
from shopsense.api.state import new_request_id
from shopsense.api.storefront import page, viewer
from shopsense.errors import ShopSenseError
from shopsense.recommend.explain import matches

router = APIRouter(include_in_schema=False)


@router.get("/shop/search")
def search_page(request: Request) -> Response:
    from shopsense.search import SORTS

    state = state_of(request)
    who = viewer(request)
    try:
        names = state.search.engine().config.facet_attributes
    except ShopSenseError:  # still building: the page says so below
        names = ("color", "size")
    browse = Browse.from_query(request.query_params, SORTS, names)
    context: dict[str, Any] = {"browse": browse, "q": browse.q, "sorts": SORTS}
    context |= {"result": None, "error": None, "request_id": new_request_id()}
    context |= {"cards": [], "facets": [], "pages": [], "did_you_mean": None}
    if browse.searching:
        try:
            context |= _results(request, browse, who.user_id, who.session_id)
        except ShopSenseError as exc:
            context["error"] = str(exc)
    return page(request, "search.html", context, shopper=who)


def _results(request: Request, browse: Browse, uid: str, sid: str) -> dict[str, Any]:
    state = state_of(request)
    engine = state.search.engine()
    result, request_id = run_search(
        state, browse.q, uid, browse.filters(), browse.sort, browse.page, PAGE_SIZE,
        session_id=sid, explain=browse.why,
    )  # fmt: skip
    terms = query_terms(browse.q)
    cards = []
    for hit in result.items:
        item = {"item_id": hit.id, "title": hit.title, "category": hit.category,
                "brand": hit.brand, "price": hit.price, "in_stock": hit.in_stock,
                "explanation": hit.explanation or matches(browse.q)}  # fmt: skip
        cards.append(card(item, state.catalog.get(hit.id), terms) | {"why": why_lines(hit.why)})
    currencies = Counter(p.currency for h in result.items if (p := state.catalog.get(h.id)))
    currency = currencies.most_common(1)[0][0] if currencies else "USD"
    corrected = engine.did_you_mean(browse.q) if browse.q else None
    return {
        "result": result,
        "request_id": request_id,
        "cards": cards,
        "facets": browse.facets(result.facets, currency),
        "pages": pages(browse.page, result.total),
        "did_you_mean": (corrected, browse.url(q=corrected, page=1)) if corrected else None,
    }


def why_lines(why: Mapping[str, Any] | None) -> list[str]:
    """A search hit's ``why`` (``explain=True``) as short lines a shopper can read."""
    if not why:
        return []
    words = why.get("matched_terms") or []
    lines = [
        "title matches " + ", ".join(f"‘{w}’" for w in words) if words else "no word in the title",
        f"text match (BM25) {why.get('lexical', 0.0):.2f}",
        f"meaning match {why.get('semantic', 0.0):.2f} (cosine similarity)",
    ]
    ranker = why.get("ranker")
    if ranker:
        top = ", ".join(f"{c['feature']} {c['value']:+.2f}" for c in ranker["contributions"][:3])
        lines.append(f"ranker {ranker['score']:.2f} (expected {ranker['expected']:.2f}): {top}")
    personal = why.get("personal")
    if personal:
        lines.append(
            f"your taste {personal['affinity_z']:+.2f} (z-score, weight {personal['weight']:g})"
        )
    moved = why.get("feedback_ranker")
    if moved:
        lines.append(
            f"for you: from place {moved['from']} to {moved['to']} "
            "(the ranker learned from what shoppers clicked and bought)"
        )
    return lines


def _phrases(completion: str, titles: list[str], n: int = 3) -> list[str]:
    """Phrases of product names that continue the best completion ("running" -> "running
    shoe", "running socks"): the completed words and the next word of a title that has
    them, one per singular / plural."""
    typed = completion.split()
    found: dict[str, str] = {}
    for title in titles:
        words = query_terms(title.split(",")[0])
        for i in range(len(words) - len(typed)):
            following = words[i + len(typed)]
            if words[i : i + len(typed)] == typed and len(following) >= 3:
                found.setdefault(following.rstrip("s"), f"{completion} {following}")
                break
    return list(found.values())[:n]


@router.get("/shop/suggest")
def suggest(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Completions of the typed words and the products they find (``[]`` while the index
    builds)."""
    body: dict[str, Any] = {"prefix": q, "queries": [], "products": []}
    state = state_of(request)
    if not q.strip():
        return json_response(body)
    try:
        engine = state.search.engine()
    except ShopSenseError:
        return json_response(body)
    completions = engine.suggest(q, 6)
    products = engine.suggest_products(q, 8)
    phrases = _phrases(completions[0], [p.title for p in products]) if completions else []
    body["queries"] = list(dict.fromkeys([*completions[:3], *phrases, *completions]))[:6]
    body["products"] = [
        {
            "id": p.id,
            "title": p.title,
            "url": f"/product/{quote(p.id, safe='')}",
            "picture": picture_url(p),
            "price": money(p.price, p.currency) if p.price is not None else None,
        }
        for p in products[:4]
    ]
    return json_response(body)
