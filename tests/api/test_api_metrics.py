"""``GET /metrics``: the Prometheus names, labels and buckets that dashboards query."""

from __future__ import annotations

from pathlib import Path

from api_helpers import API_KEY
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from shopsense.api import ServeConfig, create_app
from shopsense.api.metrics import Metrics
from shopsense.config import Settings

RECOMMEND = {"method": "GET", "route": "/recommendations/{user_id}"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by name and labels (the text must parse)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_requests_latency_counters_and_gauges_keep_their_names() -> None:
    metrics = Metrics()
    metrics.observe("GET", RECOMMEND["route"], 200, 0.003)
    metrics.observe("GET", RECOMMEND["route"], 200, 0.005)  # a bound is inside its bucket
    metrics.observe("GET", RECOMMEND["route"], 200, 0.2)
    metrics.observe("POST", "(body too large)", 413, 0.0)
    metrics.count("events_stored_total", 5)
    metrics.count("events_stored_total")
    metrics.set_gauge("model_swaps_total", 2)
    metrics.set_gauge("products", 300)
    metrics.set_gauge("products", 301)
    text = metrics.render()
    assert (
        'shopsense_requests_total{method="GET",route="/recommendations/{user_id}",status="200"}'
        " 3.0" in text
    )
    for kind in (
        "shopsense_requests_total counter",
        "shopsense_request_seconds histogram",
        "shopsense_events_stored_total counter",
        "shopsense_model_swaps_total gauge",
        "shopsense_products gauge",
    ):
        assert f"# TYPE {kind}\n" in text
    found = samples(text)
    bucket = "shopsense_request_seconds_bucket"
    assert found[key(bucket, **RECOMMEND, le="0.001")] == 0
    assert found[key(bucket, **RECOMMEND, le="0.005")] == 2
    assert found[key(bucket, **RECOMMEND, le="0.25")] == 3
    assert found[key(bucket, **RECOMMEND, le="+Inf")] == 3
    assert found[key("shopsense_request_seconds_count", **RECOMMEND)] == 3
    assert abs(found[key("shopsense_request_seconds_sum", **RECOMMEND)] - 0.208) < 1e-9
    labels = {"method": "POST", "route": "(body too large)", "status": "413"}
    assert found[key("shopsense_requests_total", **labels)] == 1
    assert found[key("shopsense_events_stored_total")] == 6
    assert found[key("shopsense_model_swaps_total")] == 2
    assert found[key("shopsense_products")] == 301


def test_each_app_counts_its_own_requests(tmp_path: Path) -> None:
    """Two apps in one process (tests make many) neither collide nor share numbers."""
    config = ServeConfig(api_key=API_KEY)
    first = create_app(Settings(data_dir=tmp_path / "a"), config, search=False, storefront=False)
    second = create_app(Settings(data_dir=tmp_path / "b"), config, search=False, storefront=False)
    with TestClient(first) as one, TestClient(second) as other:
        assert one.get("/health").status_code == 200
        answer = one.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        health = key("shopsense_requests_total", method="GET", route="/health", status="200")
        found = samples(answer.text)
        assert found[health] == 1
        assert found[key("shopsense_products")] == 0
        assert key("shopsense_uptime_seconds") in found
        assert key("shopsense_result_cache_hits") in found
        assert health not in samples(other.get("/metrics").text)
