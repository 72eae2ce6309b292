"""Model lifecycle: background training behind a quality gate, hot swaps without errors."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import HEADERS
from fastapi.testclient import TestClient

from shopsense.config import Settings
from shopsense.pipeline import QualityGate, train
from shopsense.store import ArtifactStore, open_store


def test_gate_known_answers() -> None:
    gate = QualityGate(metric="NDCG@10", tolerance=0.1)
    assert gate.check({"als": {"NDCG@10": 0.2}}, "als", None)["passed"]
    assert gate.check({"als": {"NDCG@10": 0.091}}, "als", {"als": {"NDCG@10": 0.1}})["passed"]
    verdict = gate.check({"als": {"NDCG@10": 0.089}}, "als", {"als": {"NDCG@10": 0.1}})
    assert not verdict["passed"] and "0.0890 vs 0.1000" in verdict["reason"]
    assert not gate.check({"popularity": {"NDCG@10": 1.0}}, "als", None)["passed"]


def wait_for_job(client: TestClient, timeout: float = 120.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.get("/admin/models", headers=HEADERS).json()["jobs"]
        if jobs and jobs[0]["status"] != "running":
            job: dict[str, object] = jobs[0]
            return job
        time.sleep(0.2)
    raise AssertionError("training did not finish")


def test_training_on_demand_publishes_and_swaps(client: TestClient) -> None:
    before = client.get("/health").json()["bundle"]
    response = client.post("/admin/train", headers=HEADERS)
    assert response.status_code == 202 and response.json()["job"]["status"] == "running"
    # A second request while one runs returns the running job instead of starting another.
    assert (
        client.post("/admin/train", headers=HEADERS).json()["job"]["id"]
        == (response.json()["job"]["id"])
    )
    job = wait_for_job(client)
    assert job["status"] == "published", job
    assert job["gate"]["passed"]  # type: ignore[index]
    after = client.get("/health").json()["bundle"]
    assert after == job["bundle_id"] != before
    overview = client.get("/admin/models", headers=HEADERS).json()
    assert overview["serving"] == after
    assert overview["bundles"][0]["metrics"]["als"]["NDCG@10"] > 0


def test_a_worse_bundle_is_not_published(trained_shop: Settings, tmp_path: Path) -> None:
    shutil.copytree(trained_shop.data_dir, tmp_path / "data")
    shop_copy = Settings(data_dir=tmp_path / "data")
    artifacts = ArtifactStore(shop_copy.artifacts_dir)
    current = artifacts.latest()
    assert current is not None
    # Pretend the serving bundle is far better than anything training can reach.
    manifest = json.loads((current.path / "manifest.json").read_text())
    manifest["metrics"]["als"]["NDCG@10"] = 0.99
    (current.path / "manifest.json").write_text(json.dumps(manifest))
    result = train(open_store(shop_copy), shop_copy, gate=QualityGate(tolerance=0.05))
    assert not result.published and result.gate is not None and not result.gate["passed"]
    latest = artifacts.latest()
    assert latest is not None and latest.id == current.id
    kept = next(b for b in artifacts.list() if b.id == result.bundle.id)
    assert not kept.published and kept.manifest["gate"]["passed"] is False


@pytest.fixture()
def hammer(client: TestClient) -> Iterator[list[int]]:
    """Background readers recording every status they get."""
    statuses: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for url in ("/recommendations/U0003", "/items/P00004/similar", "/recommendations/x"):
                statuses.append(client.get(url).status_code)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    yield statuses
    stop.set()
    for t in threads:
        t.join()


def test_hot_swaps_fail_no_request(
    client: TestClient, hammer: list[int], shop_copy: Settings
) -> None:
    artifacts = ArtifactStore(shop_copy.artifacts_dir)
    if len([b for b in artifacts.list() if b.published]) < 2:
        train(open_store(shop_copy), shop_copy)
    published = [b for b in artifacts.list() if b.published]
    swaps = client.app.state.serving.models.swaps  # type: ignore[attr-defined]
    for i in range(6):
        target = published[i % 2].id
        response = client.post(f"/admin/models/{target}/activate", headers=HEADERS)
        assert response.status_code == 200 and response.json()["serving"] == target
        time.sleep(0.05)
    assert client.app.state.serving.models.swaps == swaps + 6  # type: ignore[attr-defined]
    time.sleep(0.1)
    assert hammer and set(hammer) == {200}


def test_activating_unknown_or_rejected_bundles_is_refused(client: TestClient) -> None:
    response = client.post("/admin/models/nope/activate", headers=HEADERS)
    assert response.status_code == 404 and "nope" in response.json()["error"]


def test_retrain_schedule_starts_jobs(shop_copy: Settings, tmp_path: Path) -> None:
    from shopsense.api.config import ServeConfig
    from shopsense.api.lifecycle import ModelManager
    from shopsense.recommend import CatalogView

    manager = ModelManager(shop_copy, ServeConfig(retrain_every_s=0.05), CatalogView())
    started: list[int] = []
    manager.start_training = lambda: started.append(1)  # type: ignore[method-assign, assignment, return-value]
    manager.start_schedule()
    time.sleep(0.3)
    manager.stop()
    assert len(started) >= 2
