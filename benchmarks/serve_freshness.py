"""Freshness over loopback: how long until a running server's answers reflect a write.

Used by :mod:`serve_load` (``--only fresh``). Each trial is timed from the start of the
write to the end of the first read that shows it, one request at a time on an idle server:

- **event**: a new shopper asks for recommendations, posts a purchase of the fourth item
  shown, and asks again (``exclude_seen``); the answer must change and leave the item out;
- **product**: a product with an invented word in its title is upserted, then searched for
  by that word; it must be the first result (search runs only when the server has it);
- **cold product**: a copy of an existing product under a new id is upserted, then its
  similar items are asked for; the answer must come from the item tower (no events yet);
- **another process**: a product is written straight into the store (as ``shopsense
  ingest catalog`` does), then its product page is asked for every 50 ms until it answers.

- **another worker** (``--workers N``): a purchase posted to one worker, then another
  worker's recommendations (new connections until a different worker answers); and the
  other published bundle activated at one worker, then ``/health`` until another worker
  serves it (target 5 s: workers look every ``SHOPSENSE_FOLLOW_CHANGES_S``, 2 s).

Targets: every trial through the API within 1 s (issues 5 and 11); a write by another
process served within 5 s (issue 12; the server looks every ``SHOPSENSE_FOLLOW_CHANGES_S``,
default 2 s). The tests check the behaviour; the time is measured here, not asserted there.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np


def _timed(write: Callable[[], None], read: Callable[[], bool]) -> tuple[float, bool]:
    started = time.perf_counter()
    write()
    ok = read()
    return time.perf_counter() - started, ok


def _event_trial(client: httpx.Client, headers: dict[str, str]) -> tuple[float, bool]:
    user = "fresh-" + uuid.uuid4().hex[:10]
    path = f"/recommendations/{quote(user, safe='')}"
    before = [i["item_id"] for i in client.get(path, params={"n": 5}).json()["items"]]
    item = before[3]
    event = {"event_id": uuid.uuid4().hex, "user_id": user, "kind": "purchase", "item_id": item}

    def write() -> None:
        client.post("/events", json={"events": [event]}, headers=headers).raise_for_status()

    def read() -> bool:
        answer = client.get(path, params={"n": 5, "exclude_seen": "true"}).json()
        after = [i["item_id"] for i in answer["items"]]
        return after != before and item not in after

    return _timed(write, read)


def _other_worker_trial(port: int, headers: dict[str, str]) -> tuple[float, bool]:
    """With several workers: a purchase posted to one, the recommendations of another (each
    request on a new connection, so the kernel picks the worker; every worker is asked
    first, so each holds the shopper in memory and cannot simply read the store)."""
    url = f"http://127.0.0.1:{port}"
    user = "fresh-" + uuid.uuid4().hex[:10]
    path = f"{url}/recommendations/{quote(user, safe='')}"
    before: dict[str, list[str]] = {}
    for _ in range(100):
        answer = httpx.get(path, params={"n": 5})
        before.setdefault(
            answer.headers["x-shopsense-worker"], [i["item_id"] for i in answer.json()["items"]]
        )
        if len(before) >= 2:
            break
    item = next(iter(before.values()))[3]
    event = {"event_id": uuid.uuid4().hex, "user_id": user, "kind": "purchase", "item_id": item}
    writer: list[str] = []

    def write() -> None:
        answer = httpx.post(f"{url}/events", json={"events": [event]}, headers=headers)
        answer.raise_for_status()
        writer.append(answer.headers["x-shopsense-worker"])

    def read() -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = httpx.get(path, params={"n": 5, "exclude_seen": "true"})
            if answer.headers["x-shopsense-worker"] == writer[0]:
                continue  # the writer's own answer: not what is measured
            if item not in [i["item_id"] for i in answer.json()["items"]]:
                return True
            time.sleep(0.01)
        return False

    return _timed(write, read)


def _bundle_trial(port: int, headers: dict[str, str]) -> tuple[float, bool]:
    """With several workers: another published bundle activated at one worker, then
    ``/health`` on new connections until a different worker serves it."""
    url = f"http://127.0.0.1:{port}"
    listed = httpx.get(f"{url}/admin/models", headers=headers, timeout=30).json()
    published = [b["id"] for b in listed["bundles"] if b["published"]]
    target = next(b for b in published if b != listed["serving"])
    activator: list[str] = []

    def write() -> None:
        answer = httpx.post(f"{url}/admin/models/{target}/activate", headers=headers, timeout=60)
        answer.raise_for_status()
        activator.append(answer.headers["x-shopsense-worker"])

    def read() -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = httpx.get(f"{url}/health")
            other = answer.headers["x-shopsense-worker"] != activator[0]
            if other and answer.json()["bundle"] == target:
                return True
            time.sleep(0.05)
        return False

    return _timed(write, read)


def _product_trial(
    client: httpx.Client, headers: dict[str, str], twin: dict[str, Any], search: bool
) -> tuple[float, bool]:
    word = "zq" + uuid.uuid4().hex[:8]
    product = twin | {"id": f"FRESH-{word}", "title": f"{word} {twin['title']}"}
    product["created_at"] = None

    def write() -> None:
        answer = client.put("/catalog/products", json={"products": [product]}, headers=headers)
        answer.raise_for_status()

    def read() -> bool:
        if search:
            found = client.get("/search", params={"q": word}).json()["items"]
            return bool(found) and found[0]["item_id"] == product["id"]
        similar = client.get(f"/items/{quote(product['id'], safe='')}/similar").json()
        return bool(similar["items"]) and similar["strategy"] == "item_tower"

    return _timed(write, read)


def _elsewhere_trial(client: httpx.Client, store: Any, twin: dict[str, Any]) -> tuple[float, bool]:
    from shopsense.domain import Product

    product = Product.model_validate(twin | {"id": "ELSE-" + uuid.uuid4().hex[:8]})

    def read() -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if client.get(f"/product/{quote(product.id, safe='')}").status_code == 200:
                return True
            time.sleep(0.05)
        return False

    return _timed(lambda: store.catalog.upsert([product]), read)


def bench_freshness(
    port: int,
    twin: dict[str, Any],
    headers: dict[str, str],
    search: bool,
    trials: int = 20,
    store: Any = None,
    workers: int = 1,
) -> tuple[list[str], list[str]]:
    """Table rows (the format of :func:`serve_load.row`) and notes; ``twin`` is an existing
    product (the JSON ``PUT /catalog/products`` takes) whose copies are upserted."""
    rows: list[str] = []
    notes: list[str] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        kinds: dict[str, Callable[[], tuple[float, bool]]] = {
            "event -> next recommendations": lambda: _event_trial(client, headers),
            "new product -> similar (item tower)": lambda: _product_trial(
                client, headers, twin, search=False
            ),
        }
        if search:
            kinds["new product -> search"] = lambda: _product_trial(
                client, headers, twin, search=True
            )
        if workers > 1:
            kinds["event at one worker -> another's recommendations"] = lambda: _other_worker_trial(
                port, headers
            )
        limits = dict.fromkeys(kinds, 1.0)
        if workers > 1:
            kinds["bundle activated at one worker -> served by another"] = lambda: _bundle_trial(
                port, headers
            )
            limits["bundle activated at one worker -> served by another"] = 5.0
        if store is not None:
            kinds["product ingested by another process"] = lambda: _elsewhere_trial(
                client, store, twin
            )
            limits["product ingested by another process"] = 5.0
        for name, trial in kinds.items():
            results = [trial() for _ in range(trials)]
            ms = np.array([1000 * s for s, _ in results])
            wrong = sum(not ok for _, ok in results)
            met = float(ms.max()) <= 1000 * limits[name] and wrong == 0
            rows.append(
                f"| freshness: {name} | {trials} | | {np.median(ms):.1f} | {ms.max():.1f} (max) "
                f"| {wrong} not reflected | every write visible <= {limits[name]:g} s "
                f"| {'yes' if met else 'NO'} |"
            )
    notes.append(
        "- freshness: one request at a time on an idle server, from the start of the write to "
        "the end of the first read that shows it (event: the answer changes and leaves the "
        "bought item out; product: first search result / similar items from the item tower)."
    )
    return rows, notes
