"""A/B experiments while serving: the variant picks the model; results on the dashboard."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.evaluation.abtest import assign_variant

EXPERIMENT = """
[[experiments]]
name = "stack-vs-trending"
[[experiments.variants]]
name = "control"
policy = "stack"
[[experiments.variants]]
name = "treatment"
policy = "trending"
"""


@pytest.fixture(scope="module")
def ab_client(
    trained_shop: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    target = tmp_path_factory.mktemp("ab") / "data"
    shutil.copytree(trained_shop.data_dir, target)
    (target / "experiments.toml").write_text(EXPERIMENT)
    app = create_app(Settings(data_dir=target), ServeConfig(api_key="test-key"), search=False)
    with TestClient(app) as client:
        yield client


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
