"""Durability: kill -9 the server in the middle of an event burst; every acknowledged event
is in the store after a restart, none twice, and re-sending everything stores each once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from shopsense.config import Settings
from shopsense.domain import Product
from shopsense.store import open_store

KEY = "durability-key"
BATCH = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"SHOPSENSE_API_KEY": KEY, "OPENBLAS_NUM_THREADS": "1"}
    code = "from shopsense.cli import main; raise SystemExit(main())"
    args = ["--data-dir", str(data_dir), "serve", "--port", str(port), "--no-search"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start")


def batch(worker: int, number: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"w{worker}-b{number}-{i}",
            "user_id": f"u{(worker * 7 + i) % 40}",
            "kind": "view",
            "item_id": f"P{i % 20}",
        }
        for i in range(BATCH)
    ]


@pytest.mark.slow
def test_kill_9_mid_burst_loses_no_acknowledged_event(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    store.catalog.upsert([Product(id=f"P{i}", title=f"Product {i}") for i in range(20)])
    store.close()
    port = free_port()
    server = start_server(settings.data_dir, port)
    url = f"http://127.0.0.1:{port}/events"
    acked: set[str] = set()
    sent: dict[tuple[int, int], list[dict[str, object]]] = {}
    lock = threading.Lock()

    def post_until_failure(worker: int) -> None:
        with httpx.Client(headers={"X-API-Key": KEY}, timeout=5) as client:
            for number in range(10_000):
                events = batch(worker, number)
                with lock:
                    sent[(worker, number)] = events
                try:
                    response = client.post(url, json={"events": events})
                except httpx.HTTPError:
                    return
                assert response.status_code == 200, response.text
                with lock:
                    acked.update(str(e["event_id"]) for e in events)

    workers = [threading.Thread(target=post_until_failure, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    while len(acked) < 10 * BATCH:  # well into the burst
        time.sleep(0.02)
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    for w in workers:
        w.join()

    store = open_store(settings)
    stored = [str(i) for b in store.events.iter_batches() for i in b.event_id]
    all_sent = {str(e["event_id"]) for events in sent.values() for e in events}
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged events were lost"
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) <= all_sent
    store.close()

    # Restart and re-send every batch (acknowledged or not): each event is stored exactly once.
    server = start_server(settings.data_dir, port)
    try:
        with httpx.Client(headers={"X-API-Key": KEY}, timeout=10) as client:
            for events in sent.values():
                assert client.post(url, json={"events": events}).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    store = open_store(settings)
    assert store.events.count() == len(all_sent)
    store.close()
