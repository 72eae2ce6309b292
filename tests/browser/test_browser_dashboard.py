"""The operator's dashboard in Chromium: no console errors, one-click rollback and back,
what answers each scenario, charts on a time axis; screenshots at desktop and phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from browser_helpers import Shop

from factories import copy_bundle

OLDER = "20200101T000000000000Z-browsr"


def serving(shop: Shop) -> str:
    return str(httpx.get(f"{shop.url}/health", timeout=10).json()["bundle"])


def test_dashboard_rollback_and_screenshots(page: Any, shop: Shop, screenshots: Path) -> None:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{m.text} ({m.location})") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    current = serving(shop)
    if not (shop.settings.artifacts_dir / "bundles" / OLDER).exists():
        copy_bundle(shop.settings.artifacts_dir, current, OLDER, created_at="2020-01-01T00:00:00Z")

    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/dashboard")  # the operator logs in with the API key first
    page.fill("#key", "browser-key")
    page.click("#login button")
    page.wait_for_url("**/dashboard")
    assert page.locator("#serving").inner_text() == current
    assert page.locator("#bundles tr.bundle.serving").count() == 1
    scenarios = page.locator("#scenarios tr[data-scenario]")
    assert scenarios.count() == 5
    assert page.locator('#scenarios tr[data-scenario="for_you"] code.model').inner_text() == "stack"
    comparison = page.locator(f'tr.comparison[data-bundle="{current}"] details')
    assert comparison.get_attribute("open") is not None
    assert comparison.locator("table.models tr[data-model]").count() >= 3
    assert "NDCG@10" in page.locator("#models").inner_text()
    assert page.locator("svg.chart:not(.item-map)").count() == 3  # the day charts
    assert page.locator("svg.chart.item-map").count() >= 1  # the serving models' item maps
    assert page.locator("svg.item-map circle[data-item]").count() >= 100
    assert page.locator("svg.chart text.ytick").count() >= 9  # three charts, labelled ticks
    assert page.locator("svg.chart text.xtick").count() >= 3
    assert page.locator("#top-queries tr[data-query]").count() > 0  # the sample shop searches
    page.screenshot(path=str(screenshots / "dashboard-1400.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    page.screenshot(path=str(screenshots / "dashboard-390.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})

    older = page.locator(f'#bundles tr.bundle[data-bundle="{OLDER}"]')
    assert older.locator("button").inner_text() == "Activate (roll back)"
    older.locator("button").click()
    page.wait_for_url("**/dashboard?activated=*")
    assert page.locator("#serving").inner_text() == OLDER == serving(shop)
    assert page.locator("#notice").inner_text() == f"Now serving {OLDER}."
    assert page.locator(f'#bundles tr.bundle.serving[data-bundle="{OLDER}"]').count() == 1
    page.screenshot(path=str(screenshots / "dashboard-rolled-back-1400.png"))

    back = page.locator(f'#bundles tr.bundle[data-bundle="{current}"] button')
    assert back.inner_text() == "Activate (roll forward)"
    back.click()
    page.wait_for_url(f"**/dashboard?activated={current}*")
    assert page.locator("#serving").inner_text() == current == serving(shop)
    assert problems == []
