"""The storefront in Chromium: every shopper action records real events (the dashboard:
``test_browser_dashboard.py``)."""

from __future__ import annotations

import time
from pathlib import Path
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
    assert page.locator("#for-you").count() == 0  # new shopper: trending, once
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


def watch_console(page: Any) -> list[str]:
    """Console errors and uncaught exceptions of ``page``, as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def prices(page: Any) -> list[float]:
    return [
        float(p.strip("$").replace(",", ""))
        for p in page.locator("#results .price").all_inner_texts()
    ]


def fits(page: Any, width: int) -> None:
    """Nothing sticks out sideways, and the search button is on screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.locator("#search-button").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_a_shopper_walks_the_shop(page: Any, shop: Shop, screenshots: Path) -> None:
    """Search as you type, a facet, a sort, page 2, a product, the cart, checkout: no
    console errors, screenshots at desktop and phone width."""
    errors = watch_console(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/?as=walker")
    page.screenshot(path=str(screenshots / "shop-home-1400.png"))
    page.locator("#q").press_sequentially("runn", delay=40)
    first = page.locator("#suggestions a.suggestion-query").first
    first.wait_for()
    assert first.inner_text().startswith("runn")
    assert page.locator("#suggestions a.suggestion-product").count() > 0
    page.screenshot(path=str(screenshots / "shop-suggest-1400.png"))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # the highlighted suggestion
    page.wait_for_url("**/shop/search?q=running*")
    assert page.locator("#results .card mark").count() > 0
    page.wait_for_function("document.body.dataset.eventsPosted !== undefined")

    page.locator(".facet[data-facet='in_stock'] a.facet-value[data-value='true']").click()
    page.wait_for_url("**in_stock=true*")
    page.select_option("#sort", "price_asc")
    page.wait_for_url("**sort=price_asc*")
    assert "in_stock=true" in page.url  # the sort kept the filter
    first_page = prices(page)
    assert first_page == sorted(first_page)
    page.screenshot(path=str(screenshots / "shop-search-1400.png"), full_page=True)
    page.click("#next-page")
    page.wait_for_url("**page=2*")
    assert "in_stock=true" in page.url and "sort=price_asc" in page.url
    second_page = prices(page)
    assert second_page and min(second_page) >= max(first_page)

    card = page.locator("#results .card").first
    item = card.get_attribute("data-item")
    card.locator("a.rec-link").click()
    page.wait_for_url(f"**/product/{item}**")
    page.screenshot(path=str(screenshots / "shop-product-1400.png"))
    page.click("#add-to-cart")
    page.wait_for_url("**/cart")
    page.locator("#together .card a.rec-link").first.click()
    page.wait_for_url("**/product/**")
    page.click("#add-to-cart")
    page.wait_for_url("**/cart")
    assert page.locator(".cart-line").count() == 2
    quantity = page.locator(f".cart-line[data-item='{item}'] .qty-input")
    with page.expect_navigation():
        quantity.fill("3")
        quantity.dispatch_event("change")  # applied at once, no button
    assert page.locator(f".cart-line[data-item='{item}'] .qty-input").input_value() == "3"
    assert page.locator("#cart-count").inner_text() == "4"
    page.screenshot(path=str(screenshots / "shop-cart-1400.png"), full_page=True)
    other = page.locator(f".cart-line:not([data-item='{item}']) .remove-line")
    with page.expect_navigation():
        other.click()
    assert page.locator(".cart-line").count() == 1
    assert page.locator("#cart-count").inner_text() == "3"

    page.set_viewport_size({"width": 390, "height": 844})
    fits(page, 390)
    page.screenshot(path=str(screenshots / "shop-cart-390.png"), full_page=True)
    page.click("#checkout")
    assert "Thank you" in page.locator("#thanks").inner_text()
    assert page.locator(".bought").count() == 1
    kinds = [e.kind.value for e in stored(shop, "walker", at_least=5) if e.item_id == item]
    assert kinds.count("add_to_cart") == 2 and "purchase" in kinds  # added, then raised to 3

    for name, url in (("home", "/"), ("search", "/shop/search?q=running&page=2"),
                      ("product", f"/product/{item}")):  # fmt: skip
        page.goto(url)
        fits(page, 390)
        page.screenshot(path=str(screenshots / f"shop-{name}-390.png"), full_page=True)
    page.locator("#q").press_sequentially("sho", delay=40)
    page.locator("#suggestions a.suggestion-product").first.wait_for()
    fits(page, 390)
    page.screenshot(path=str(screenshots / "shop-suggest-390.png"))
    assert errors == []
