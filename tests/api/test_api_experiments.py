"""A/B experiments while serving: the variant picks the model; results on the dashboard."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient

from factories import event
from shopsense.api import ServeConfig, create_app
from shopsense.api.experiments import STARTED, Experiments
from shopsense.config import Settings
from shopsense.evaluation.abtest import assign_variant
from shopsense.store import InMemoryStore

TEMPLATE = """
[[experiments]]
name = "{name}"
start = {start}
[[experiments.variants]]
name = "control"
policy = "stack"
[[experiments.variants]]
name = "treatment"
policy = "trending"
"""
# starts before the sample shop's events: all of them count
EXPERIMENT = TEMPLATE.format(name="stack-vs-trending", start="2026-01-01T00:00:00Z")


def serving_with(
    experiments: str, trained_shop: Settings, factory: pytest.TempPathFactory, name: str
) -> Iterator[TestClient]:
    """A client over a copy of the trained shop with ``experiments`` as its file."""
    target = factory.mktemp(name) / "data"
    shutil.copytree(trained_shop.data_dir, target)
    (target / "experiments.toml").write_text(experiments)
    app = create_app(Settings(data_dir=target), ServeConfig(api_key="test-key"), search=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def ab_client(
    trained_shop: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    yield from serving_with(EXPERIMENT, trained_shop, tmp_path_factory, "ab")


def test_the_variant_picks_the_model(ab_client: TestClient) -> None:
    state = ab_client.app.state.serving  # type: ignore[attr-defined]
    experiment = state.experiments.experiments[0]
    seen = set()
    for n in range(1, 40):
        user = f"U{n:04d}"
        if not state.history(user):
            continue
        body = ab_client.get(f"/recommendations/{user}", params={"n": 3}).json()
        variant = assign_variant(experiment, user)
        assert body["experiment"] == {"name": "stack-vs-trending", "variant": variant}
        if variant == "control":
            assert body["strategy"] in ("ranker", "blend")
        else:  # the bundle's trending model answers "for you" in this arm
            assert body["strategy"] in ("popularity", "trending")
        seen.add(variant)
    assert seen == {"control", "treatment"}
    trending = ab_client.get("/recommendations/U0001", params={"scenario": "trending"}).json()
    assert trending["experiment"] is None


def test_results_are_reported_per_variant(ab_client: TestClient) -> None:
    body = ab_client.get("/admin/experiments", headers=HEADERS).json()
    (report,) = body["experiments"]
    assert [v["name"] for v in report["variants"]] == ["control", "treatment"]
    assert [v["policy"] for v in report["variants"]] == ["stack", "trending"]
    users = ab_client.app.state.serving.store.events.user_count()  # type: ignore[attr-defined]
    assert sum(v["users"] for v in report["variants"]) == users
    assert "treatment" in report["conversion_tests"]
    assert 0.0 <= report["srm_p_value"] <= 1.0
    page = ab_client.get("/dashboard", headers=HEADERS).text
    assert 'data-experiment="stack-vs-trending"' in page and 'data-variant="treatment"' in page


@pytest.fixture(scope="module")
def late_client(
    trained_shop: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """Two experiments that began an hour ago, long after the sample shop's events."""
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    text = "".join(TEMPLATE.format(name=name, start=start) for name in ("late", "skewed"))
    yield from serving_with(text, trained_shop, tmp_path_factory, "ab-late")


def reports(client: TestClient) -> dict[str, dict[str, Any]]:
    body = client.get("/admin/experiments", headers=HEADERS).json()
    return {r["experiment"]: r for r in body["experiments"]}


def views(client: TestClient, users: list[str], at: datetime) -> None:
    item = client.app.state.serving.catalog.products()[0].id  # type: ignore[attr-defined]
    events = [
        {"event_id": uuid.uuid4().hex, "user_id": u, "kind": "view", "item_id": item,
         "timestamp": at.isoformat()}
        for u in users
    ]  # fmt: skip
    assert client.post("/events", json={"events": events}, headers=HEADERS).status_code == 200


def test_results_count_only_events_from_the_experiments_start(late_client: TestClient) -> None:
    before = reports(late_client)["late"]
    start = datetime.fromisoformat(before["start"])
    assert start > datetime(2026, 11, 2, tzinfo=UTC)  # after every sample-shop event
    views(late_client, ["early-bird"], start - timedelta(days=1))
    views(late_client, ["late-comer"], datetime.now(UTC))
    after = reports(late_client)["late"]
    assert after["users"] == before["users"] + 1  # the late comer only
    assert sum(v["users"] for v in after["variants"]) == after["users"]
    users = late_client.app.state.serving.store.events.user_count()  # type: ignore[attr-defined]
    assert after["users"] < users


def test_the_sample_ratio_check_is_shown_whatever_its_verdict(late_client: TestClient) -> None:
    state = late_client.app.state.serving  # type: ignore[attr-defined]
    skewed = next(e for e in state.experiments.experiments if e.name == "skewed")
    controls = [
        u for u in (f"skew-{n}" for n in range(400)) if assign_variant(skewed, u) == "control"
    ]
    views(late_client, controls[:120], datetime.now(UTC))  # every new shopper in one arm
    found = reports(late_client)
    assert not found["skewed"]["srm_ok"] and found["skewed"]["srm_p_value"] < 0.001
    assert found["late"]["srm_ok"]  # an independent hash splits the same shoppers evenly
    page = late_client.get("/dashboard", headers=HEADERS).text
    for name, report in found.items():
        article = page.split(f'<article class="experiment-report" data-experiment="{name}">')[1]
        article = article.split("</article>")[0]
        assert f'data-srm-ok="{str(report["srm_ok"]).lower()}"' in article
        assert f"p = {report['srm_p_value']:.3g}" in article
        verdict = "passed" if report["srm_ok"] else "sample ratio mismatch"
        assert f"<strong>{verdict}</strong>" in article
        shares = re.findall(r'<td class="users">\d+ \(([0-9.]+)% / 50.0%\)</td>', article)
        assert len(shares) == 2


def test_an_experiment_without_a_start_starts_when_first_served(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    (tmp_path / "experiments.toml").write_text(EXPERIMENT.replace("start = ", "# start = "))
    began = datetime.now(UTC)
    (experiment,) = Experiments.from_settings(settings, None).experiments
    assert experiment.start is not None and began <= experiment.start <= datetime.now(UTC)
    assert (tmp_path / STARTED).is_file()
    (again,) = Experiments.from_settings(settings, None).experiments  # a restart
    assert again.start == experiment.start
    store = InMemoryStore()
    store.events.append([
        event(1, user="before", timestamp=experiment.start - timedelta(seconds=1)),
        event(2, user="after", timestamp=experiment.start),
    ])  # fmt: skip
    (report,) = Experiments([again]).results(store)
    assert report["users"] == 1 and report["start"] == experiment.start.isoformat()
