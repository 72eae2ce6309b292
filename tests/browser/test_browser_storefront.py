"""The storefront in Chromium: every shopper action records real events (the dashboard:
``test_browser_dashboard.py``)."""

from __future__ import annotations

import time
from typing import Any

from browser_helpers import Shop

from shopsense.store import open_store


def stored(shop: Shop, user: str, timeout: float = 5.0, at_least: int = 1) -> list[Any]:
    """The shopper's stored events, waiting until ``at_least`` are there."""
    store = open_store(shop.settings)
    try:
        deadline = time.monotonic() + timeout
        while True:
            events = store.events.user_history(user, 1000)
            if len(events) >= at_least or time.monotonic() > deadline:
                return events
            time.sleep(0.1)
    finally:
        store.close()


def active_user(shop: Shop) -> str:
    store = open_store(shop.settings)
    try:
        for n in range(1, 100):
            user = f"U{n:04d}"
            if any(e.kind.value == "purchase" for e in store.events.user_history(user, 500)):
                return user
    finally:
        store.close()
    raise AssertionError("no shopper with purchases")


def test_home_shows_explained_lists_and_records_impressions(page: Any, shop: Shop) -> None:
    user = active_user(shop)
    before = len(stored(shop, user, timeout=0))
    page.goto(f"/?as={user}")
    assert page.locator("#for-you .card").count() == 8
    assert page.locator("#trending .card").count() == 8
    assert "because you" in page.locator("#for-you").inner_text()
    assert "popular in" in page.locator("#trending").inner_text()
    page.wait_for_function("document.body.dataset.eventsPosted !== undefined")
    events = stored(shop, user, at_least=before + 16)
    impressions = [e for e in events[before:] if e.kind.value == "impression"]
    assert len(impressions) == 16
    assert {e.request_id for e in impressions} == {
        page.locator("#for-you").get_attribute("data-request"),
        page.locator("#trending").get_attribute("data-request"),
    }


def test_click_view_cart_checkout_and_real_time(page: Any, shop: Shop) -> None:
    user = "browser-shopper"
    page.goto(f"/?as={user}")
    assert "popular in" in page.locator("#for-you").inner_text()  # new shopper: trending
    card = page.locator("#trending .card").nth(2)
    item, request_id = card.get_attribute("data-item"), card.get_attribute("data-request")
    card.locator("a.rec-link").click()
    page.wait_for_url(f"**/product/{item}**")
    assert "Why you see this: popular in" in page.locator("#why").inner_text()
    assert page.locator("#similar .card").count() == 6
    assert page.locator("#together .card").count() == 6
    page.wait_for_function("document.body.dataset.eventsPosted !== undefined")
    events = stored(shop, user, at_least=1 + 1 + 12)
    clicks = [e for e in events if e.kind.value == "click"]
    assert [(c.item_id, c.request_id, c.position) for c in clicks] == [(item, request_id, 2)]
    assert any(e.kind.value == "view" and e.item_id == item for e in events)

    title = page.locator("h1").inner_text()
    page.click("#add-to-cart")
    page.wait_for_url("**/cart")
    assert page.locator(".cart-line").count() == 1
    assert page.locator("#cart-count").inner_text() == "1"
    page.click("#checkout")
    assert "Thank you" in page.locator("#thanks").inner_text()
    kinds = [e.kind.value for e in stored(shop, user, at_least=20) if e.item_id == item]
    assert "add_to_cart" in kinds and "purchase" in kinds

    # The purchase changed this shopper's home page at once.
    page.goto("/")
    for_you = page.locator("#for-you").inner_text()
    assert "because you bought " + title[:20] in for_you


def test_search_with_autocomplete_and_facets(page: Any, shop: Shop) -> None:
    page.goto("/?as=searcher")
    first_card = page.locator("#trending .card h3").first.inner_text()
    word = first_card.split()[-1].lower()
    page.fill("#q", word[:3])
    page.wait_for_function("Number(document.getElementById('suggestions').dataset.count) > 0")
    options = page.locator("#suggestions option")
    assert options.count() > 0 and options.first.get_attribute("value").startswith(word[:3])
    page.fill("#q", word)
    page.press("#q", "Enter")
    page.wait_for_url("**/shop/search?q=*")
    assert page.locator("#results .card").count() > 0
    assert page.locator("#facets .facet").count() > 0
    facet = page.locator(".facet[data-facet='category'] a.facet-value").first
    category = facet.inner_text().rsplit(" (", 1)[0]
    facet.click()
    page.wait_for_url("**category=*")
    metas = page.locator("#results .card .meta").all_inner_texts()
    assert metas and all(m.startswith(category) for m in metas)
    page.wait_for_function("document.body.dataset.eventsPosted !== undefined")
    events = stored(shop, "searcher", at_least=1)
    assert any(e.kind.value == "search" and e.query == word for e in events)
