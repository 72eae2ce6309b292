"""Faults (issue 12): the database goes away under a running server (PostgreSQL stopped, the
network cut) and comes back. Writes meanwhile answer 503 with ``Retry-After`` and store
nothing; no acknowledged event is lost; the server recovers without a restart.

The outage is a TCP gate between the server and PostgreSQL that drops every connection and
refuses new ones, then lets them through again: what a stopped and restarted server looks
like from the client side, without stopping the shared test cluster."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import API_KEY, HEADERS
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings
from shopsense.domain import Product
from shopsense.store import SqlStore


class Gate:
    """A TCP forwarder to ``target`` that can be closed (every connection dropped, new ones
    refused at once) and opened again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def gate(postgres_url: str) -> Iterator[tuple[Gate, str]]:
    url = make_url(postgres_url)
    forwarder = Gate(url.host or "127.0.0.1", url.port or 5432)
    yield forwarder, url.set(host="127.0.0.1", port=forwarder.port).render_as_string(False)
    forwarder.close()


def batch(prefix: str, n: int = 50) -> dict[str, object]:
    events = [
        {"event_id": f"{prefix}-{i}", "user_id": f"u{i % 7}", "kind": "view", "item_id": "P1"}
        for i in range(n)
    ]
    return {"events": events}


@pytest.mark.skipif(
    not os.environ.get("SHOPSENSE_TEST_POSTGRES_URL"), reason="needs the PostgreSQL test server"
)
def test_postgresql_going_away_and_back(
    gate: tuple[Gate, str], postgres_url: str, tmp_path: Path
) -> None:
    forwarder, through_gate = gate
    direct = SqlStore(postgres_url)
    with direct.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE events, products, users, carts, forgotten")
    direct.catalog.upsert([Product(id="P1", title="Mug", category="Home > Mugs")])
    settings = Settings(data_dir=tmp_path, database_url=through_gate)
    app = create_app(settings, ServeConfig(api_key=API_KEY), search=False)
    with TestClient(app) as client:
        first = client.post("/events", json=batch("a"), headers=HEADERS)
        assert first.status_code == 200 and first.json()["accepted"] == 50
        forwarder.cut()
        away = client.post("/events", json=batch("b"), headers=HEADERS)
        assert away.status_code == 503, away.text
        assert away.headers["Retry-After"] == "1"
        assert "nothing was written" in away.json()["error"]
        assert "127.0.0.1" not in away.text  # no connection details to clients
        read = client.get("/admin/stats", headers=HEADERS)  # reads the store
        assert read.status_code == 503 and "127.0.0.1" not in read.text, read.text
        assert client.get("/health").status_code == 200  # the process itself is fine
        forwarder.open = True  # the database is back: no restart
        again = client.post("/events", json=batch("b"), headers=HEADERS)
        assert again.status_code == 200 and again.json()["accepted"] == 50
    stored = [e.event_id for e in direct.events.user_history("u0", 1000)]
    ids = {str(i) for b in direct.events.iter_batches() for i in b.event_id}
    assert ids == {f"{p}-{i}" for p in "ab" for i in range(50)}
    assert len(stored) == len(set(stored))
    direct.close()
