"""``GET /metrics`` with several worker processes (``PROMETHEUS_MULTIPROC_DIR``): any worker
reports the totals of all of them.

``prometheus_client`` decides where values live when it is imported, so every process that
counts or renders here is a fresh interpreter started with the variable set; this process
(imported without it) only starts them and reads what the last one renders.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shopsense.api.metrics import MULTIPROC_DIR_ENV, Metrics, mark_worker_dead

HEALTH = {"method": "GET", "route": "/health"}

#: One worker's life: a ``Metrics``, some requests, counters and gauges; prints its pid, and
#: its exposition when told to render.
WORKER = textwrap.dedent(
    """
    import os, sys
    from shopsense.api.metrics import Metrics

    requests, stored, shoppers, products, render = sys.argv[1:]
    metrics = Metrics()
    for _ in range(int(requests)):
        metrics.observe("GET", "/health", 200, 0.003)
    if int(stored):
        metrics.count("events_stored_total", int(stored))
    metrics.set_gauge("shoppers_in_memory", int(shoppers))
    metrics.set_gauge("products", int(products))
    print(os.getpid())
    if render == "render":
        print(metrics.render())
    """
)


def start(directory: Path, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, MULTIPROC_DIR_ENV: str(directory)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def test_any_worker_reports_the_totals_of_all_workers(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    # Two workers count at the same time, then exit.
    first = start(shared, 2, 5, 10, 300, "-")
    second = start(shared, 3, 7, 20, 300, "-")
    first_pid = int(finish(first).split()[0])
    finish(second)
    # The supervisor reaps the first one: its live gauges go, its counts stay.
    mark_worker_dead(first_pid, shared)
    # A third worker answers the scrape.
    rendered = finish(start(shared, 1, 0, 1, 301, "render")).split("\n", 1)[1]

    found = samples(rendered)
    assert found[key("shopsense_requests_total", **HEALTH, status="200")] == 6
    assert found[key("shopsense_request_seconds_count", **HEALTH)] == 6
    assert found[key("shopsense_request_seconds_bucket", **HEALTH, le="0.005")] == 6
    assert found[key("shopsense_events_stored_total")] == 12
    # livesum: the second worker's and the third's; the dead first worker's 10 is gone.
    assert found[key("shopsense_shoppers_in_memory")] == 21
    # livemostrecent: what the worker that answered has just seen, not 3 x 300.
    assert found[key("shopsense_products")] == 301
    assert "# TYPE shopsense_requests_total counter\n" in rendered
    assert "# TYPE shopsense_shoppers_in_memory gauge\n" in rendered


def test_the_variable_set_too_late_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process imported ``prometheus_client`` without the variable: its values are in
    memory, where no other worker would see them, so it must not pretend otherwise."""
    monkeypatch.setenv(MULTIPROC_DIR_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match=MULTIPROC_DIR_ENV):
        Metrics()


def test_without_the_variable_each_instance_keeps_its_own_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_DIR_ENV, raising=False)
    one, other = Metrics(), Metrics()
    one.count("events_stored_total", 2)
    one.set_gauge("shoppers_in_memory", 4)
    other.set_gauge("shoppers_in_memory", 9)
    assert samples(one.render())[key("shopsense_events_stored_total")] == 2
    assert samples(one.render())[key("shopsense_shoppers_in_memory")] == 4
    assert key("shopsense_events_stored_total") not in samples(other.render())
    mark_worker_dead(12345)  # nothing shared, nothing to do
    assert list(tmp_path.iterdir()) == []
