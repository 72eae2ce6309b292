"""The operator's dashboard: rollback, what answers each scenario, models compared, charts
on a time axis, search analytics (the browser test drives the page for real)."""

from __future__ import annotations

import html
import itertools
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient

from factories import copy_bundle
from shopsense.api import ServeConfig, create_app
from shopsense.api.charts import LEFT, PLOT_W
from shopsense.config import Settings

OLDER = "20200101T000000000000Z-older0"
REJECTED = "20200102T000000000000Z-reject"


@pytest.fixture(scope="module")
def shop(trained_shop: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The trained shop with two more bundles: an older published copy of the serving one
    and a copy that failed its quality gate."""
    target = tmp_path_factory.mktemp("dashboard") / "data"
    shutil.copytree(trained_shop.data_dir, target)
    settings = Settings(data_dir=target)
    (serving,) = [p.name for p in (settings.artifacts_dir / "bundles").iterdir()]
    copy_bundle(settings.artifacts_dir, serving, OLDER, created_at="2020-01-01T00:00:00+00:00")
    gate = {"passed": False, "reason": "NDCG@10 0.01 is 90% below the served 0.1"}
    copy_bundle(settings.artifacts_dir, serving, REJECTED, published=False, gate=gate)
    return settings


@pytest.fixture(scope="module")
def client(shop: Settings) -> Iterator[TestClient]:
    app = create_app(shop, ServeConfig(api_key=API_KEY), search=False)
    with TestClient(app) as test_client:
        yield test_client


def log_in(client: TestClient) -> str:
    """Log in as the operator; the dashboard page's text."""
    client.cookies.clear()
    page = client.post("/dashboard/login", data={"key": API_KEY})
    assert page.status_code == 200 and page.url.path == "/dashboard"
    return page.text


def token_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has no activate form"
    return found.group(1)


def row(page: str, bundle_id: str) -> str:
    found = re.search(rf'<tr class="bundle[^"]*" data-bundle="{bundle_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row for {bundle_id}"
    return found.group(1)


def serving(client: TestClient) -> str:
    return str(client.get("/health").json()["bundle"])


def test_rollback_from_the_dashboard_swaps_the_serving_bundle(client: TestClient) -> None:
    page = log_in(client)
    current = serving(client)
    assert current not in (OLDER, REJECTED)
    assert "Activate (roll back)" in row(page, OLDER)
    assert "<form" not in row(page, current) and "<form" not in row(page, REJECTED)
    assert "FAILED" in row(page, REJECTED)
    done = client.post(f"/dashboard/models/{OLDER}/activate", data={"csrf": token_of(page)})
    assert done.status_code == 200 and done.url.path == "/dashboard"
    assert serving(client) == OLDER
    assert f"Now serving {OLDER}." in done.text and f'id="serving">{OLDER}<' in done.text
    assert "Activate (roll forward)" in row(done.text, current)
    # the key in the header (a script, not a browser form) rolls forward without a token
    back = client.post(f"/dashboard/models/{current}/activate", headers=HEADERS)
    assert back.status_code == 200 and serving(client) == current


def test_only_the_operator_with_the_page_token_can_activate(client: TestClient) -> None:
    page = log_in(client)
    current = serving(client)
    url = f"/dashboard/models/{OLDER}/activate"
    assert client.post(url).status_code == 403  # the cookie alone: a cross-site form post
    assert client.post(url, data={"csrf": "0" * 32}).status_code == 403
    wrong_key = {"X-API-Key": "guess"}  # a wrong key is not saved by a right token
    assert client.post(url, headers=wrong_key, data={"csrf": token_of(page)}).status_code == 401
    client.cookies.clear()  # a visitor (reads are public by default) holds no key
    assert client.post(url, data={"csrf": token_of(page)}).status_code == 401
    client.cookies.set("ss_admin", "operator")  # a hand-made cookie opens nothing
    assert client.post(url, data={"csrf": token_of(page)}).status_code == 401
    assert serving(client) == current


def test_unpublished_and_unknown_bundles_are_refused_on_the_page(client: TestClient) -> None:
    token = token_of(log_in(client))
    current = serving(client)
    rejected = client.post(f"/dashboard/models/{REJECTED}/activate", data={"csrf": token})
    assert rejected.status_code == 404 and "failed its quality gate" in rejected.text
    assert 'id="error"' in rejected.text
    unknown = client.post("/dashboard/models/nope/activate", data={"csrf": token})
    assert unknown.status_code == 404 and "no bundle &#39;nope&#39;" in unknown.text
    assert serving(client) == current


def test_the_page_names_the_model_answering_each_scenario(client: TestClient) -> None:
    page = log_in(client)
    models = client.app.state.serving.models.engine.models  # type: ignore[attr-defined]
    expected = models.scenario_models()
    shown = dict(
        re.findall(r'data-scenario="(\w+)"><td>\w+</td><td><code class="model">(\w+)<', page)
    )
    assert shown == expected
    assert set(shown) == {"for_you", "session", "similar", "bought_together", "trending"}
    assert expected["for_you"] == "stack" and expected["trending"] == "trending"
    assert expected["bought_together"] == "bought_together"
    # what the page says is what answers: the strategy each list reports
    user = next(
        f"U{n:04d}"
        for n in range(1, 100)
        if client.get(f"/recommendations/U{n:04d}").json()["strategy"] != "trending"
    )
    for_you = client.get(f"/recommendations/{user}").json()
    assert for_you["strategy"] == models.stack.strategy
    usual = models.similar  # an item it has data about (others fall to the next model)
    item = next(
        i["item_id"]
        for i in for_you["items"]
        if usual.similar_items(i["item_id"], n=1)[1][0] > usual.no_evidence
    )
    similar = client.get(
        f"/recommendations/{user}", params={"scenario": "similar", "item_id": item}
    ).json()
    assert similar["strategy"] == models.models[expected["similar"]].name
    assert f'<code class="model">{expected["similar"]}</code>' in page


def test_each_bundle_compares_its_models_on_validation_ndcg(client: TestClient) -> None:
    page = log_in(client)
    current = serving(client)
    bundle = next(b for b in client.app.state.serving.models.bundles() if b["id"] == current)  # type: ignore[attr-defined]
    ndcg = {name: values["NDCG@10"] for name, values in bundle["metrics"].items()}
    assert len(ndcg) >= 3 and "blend" in ndcg  # the candidates and the blend
    table = re.search(
        rf'<tr class="comparison" data-bundle="{current}">(.*?)</details>', page, re.S
    )
    assert table and "<details open>" in table.group(1)
    listed = re.findall(
        r'<tr data-model="(\w+)"><td>\w+</td>\s*<td class="metric">([0-9.]+)<', table.group(1)
    )
    assert [name for name, _ in listed] == sorted(ndcg, key=lambda n: -ndcg[n])
    assert all(value == f"{ndcg[name]:.4f}" for name, value in listed)
    best = max((n for n in ndcg if n != "blend"), key=ndcg.__getitem__)
    assert f"(best single model: {best})" in table.group(1)


def test_stats_have_every_calendar_day_and_mark_today_partial(client: TestClient) -> None:
    now = datetime.now(UTC)
    item = client.app.state.serving.catalog.products()[0].id  # type: ignore[attr-defined]
    event = {
        "event_id": f"today-{uuid.uuid4().hex}",
        "user_id": "U0001",
        "kind": "view",
        "item_id": item,
        "timestamp": now.isoformat(),
    }
    assert client.post("/events", json={"events": [event]}, headers=HEADERS).status_code == 200
    days = client.get("/admin/stats", params={"days": 60}, headers=HEADERS).json()["days"]
    dates = [date.fromisoformat(d["date"]) for d in days]
    assert len(days) == 60 and dates[-1] == now.date()
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(dates))
    assert [d["partial"] for d in days] == [False] * 59 + [True]
    quiet = [d for d in days[:-1] if d["events"] == 0]
    assert quiet, "the demo's events end weeks ago: the days since are empty"
    assert all(d["ctr"] is None and d["conversion"] is None for d in quiet)  # no rate, not 0


def test_charts_put_days_at_their_dates_with_labelled_y_ticks(client: TestClient) -> None:
    # Earlier tests' lists are still being logged as impressions (every 0.5 s): store them
    # now, or some land between the page and the stats below and today's counts differ.
    client.app.state.serving.impressions.flush()  # type: ignore[attr-defined]
    page = log_in(client)
    days = client.get("/admin/stats", params={"days": 60}).json()["days"]
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", page, re.S)
    assert len(charts) == 3
    events = charts[0]
    slot = PLOT_W / 60
    bars = re.findall(
        r'<rect(?: class="partial")? data-date="([0-9-]+)" data-value="(\d+)" x="([0-9.]+)"', events
    )
    counted = {d["date"]: d["events"] for d in days if d["events"]}
    assert {d: int(v) for d, v, _ in bars} == counted  # one bar per day with events, no more
    index = {d["date"]: k for k, d in enumerate(days)}
    for day, _, x in bars:  # at its date: gaps keep their width
        assert float(x) == pytest.approx(LEFT + index[day] * slot + 0.5, abs=0.06)
    assert f'<rect class="partial" data-date="{days[-1]["date"]}"' in events
    assert "today (partial)" in events
    ticks = re.findall(r'<text class="ytick"[^>]*>([^<]+)</text>', events)
    assert ticks[0] == "0" and len(ticks) >= 3
    assert max(float(t.replace(",", "")) for t in ticks) >= max(counted.values())
    rates = re.findall(r'<text class="ytick"[^>]*>([^<]+)</text>', charts[1])
    assert rates[0] == "0%" and all(t.endswith("%") for t in rates)
    assert re.search(r'<text class="xtick" data-date="[0-9-]+"', events)


def post_events(client: TestClient, events: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC).isoformat()
    for e in events:
        e.setdefault("timestamp", now)
        e.setdefault("event_id", uuid.uuid4().hex)
    response = client.post("/events", json={"events": events}, headers=HEADERS)
    assert response.status_code == 200, response.text


def test_search_analytics_top_zero_result_and_click_through(client: TestClient) -> None:
    item = client.app.state.serving.catalog.products()[3].id  # type: ignore[attr-defined]
    events: list[dict[str, Any]] = []
    for k in range(40):  # more searches than any sample-shop query: at the top
        request = f"qsofa-{k}"
        events.append(
            {"user_id": "U0002", "kind": "search", "query": "ZZ Green Sofa", "request_id": request}
        )
        events.append(
            {
                "user_id": "U0002",
                "kind": "impression",
                "item_id": item,
                "request_id": request,
                "position": 0,
                "query": "zz green sofa",
            }
        )
        if k % 4 == 0:
            events.append(
                {
                    "user_id": "U0002",
                    "kind": "click",
                    "item_id": item,
                    "request_id": request,
                    "position": 0,
                }
            )
    for k in range(30):
        events.append(
            {
                "user_id": "U0003",
                "kind": "search",
                "query": "zz unicorn lamp",
                "request_id": f"qlamp-{k}",
            }
        )
    post_events(client, events)
    page = log_in(client)
    top = re.search(r'<table id="top-queries">(.*?)</table>', page, re.S)
    assert top
    sofa = re.search(
        r'data-query="zz green sofa"><td>zz green sofa</td><td>40</td>'
        r'<td class="ctr">25.0%</td><td>10</td><td>0</td>',
        top.group(1),
    )
    assert sofa, top.group(1)[:2000]
    zero = re.search(r'<table id="zero-queries">(.*?)</table>', page, re.S)
    assert zero and re.search(
        r'data-query="zz unicorn lamp"><td>zz unicorn lamp</td><td>30</td><td>30</td>',
        zero.group(1),
    )
    summary = re.search(r'id="search-summary">([^<]+)<', page)
    assert summary and "searches" in summary.group(1) and "showed no results" in summary.group(1)


def test_the_page_maps_the_serving_models_item_vectors(client: TestClient) -> None:
    """Each item-embedding model of the serving bundle gets a map: its points are products
    of the catalog, named on hover and coloured by top category, with the agreement of
    nearest neighbours against chance."""
    from shopsense.api.item_map import SAMPLE, serving_maps

    page = log_in(client)
    state = client.app.state.serving  # type: ignore[attr-defined]
    engine = state.models.engine
    sources = engine.models.stack.sources.models
    embedded = {f"stack/{n}" for n, m in sources.items() if m.item_embeddings() is not None}
    assert embedded  # the default stack's ALS and item tower
    drawn = re.findall(r'<figure class="item-map" data-model="([\w/]+)">', page)
    assert embedded <= set(drawn)
    maps = {m.model: m for m in serving_maps(engine.models, state.catalog)}
    for name in drawn:
        found = re.search(
            rf'<svg class="chart item-map"[^>]*data-model="{name}"(.*?)</svg>', page, re.S
        )
        assert found
        points = re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="2.6" fill="(#\w+)" data-item="'
                            r'([^"]+)"><title>([^<]+)</title>', found.group(1))  # fmt: skip
        assert len(points) == len(maps[name].item_ids) == min(SAMPLE, maps[name].items_total)
        for _, item, title in points[:20]:
            product = state.catalog.get(item)
            assert product is not None and html.unescape(title).startswith(product.title)
        assert len({fill for fill, _, _ in points}) > 2  # several categories coloured
        m = maps[name]
        assert f"For {100 * m.neighbour_same:.0f}% of them" in page
    # the sample shop's vectors learned its categories: well above chance
    assert maps["stack/item_tower"].neighbour_same > 2 * maps["stack/item_tower"].chance_same
    # computed once per bundle, not per view
    assert serving_maps(engine.models, state.catalog)[0] is next(iter(maps.values()))
