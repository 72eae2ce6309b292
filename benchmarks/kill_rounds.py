"""Kill rounds (issue 12): SIGKILL the server, an ingest, a training run and a model swap at
random moments, then check that nothing acknowledged was lost or doubled and nothing is corrupt.

    python benchmarks/kill_rounds.py                                   # 10 rounds each, ~25 min
    python benchmarks/kill_rounds.py --only server,ingest --rounds 2   # a quick look
    python benchmarks/kill_rounds.py --seed 3 --data-dir /tmp/kills    # keep the stores

Each kind runs ``--rounds`` rounds; every kill is ``kill -9`` of the one process (what is left
of its session afterwards is counted as a problem, then killed too). Kill moments are drawn
within durations timed first; an ingest or training run that ends before its kill (the
machine got faster) is run again with an earlier one.

- **server**: ``shopsense serve --no-search`` on a 20-product store; four client threads post
  batches of 200 events with unique ids to ``POST /events``; 0.3-2 s after the first answer
  the server is killed. The store must hold every acknowledged event exactly once, nothing
  never sent and no part of a batch (one batch is one transaction), and pass SQLite's
  ``PRAGMA integrity_check``; the server must restart on it and take a write again. One
  store for all rounds: each restart recovers from the previous kill.
- **ingest**: ``shopsense ingest events`` of a ``--ingest-rows`` CSV into a fresh store, killed
  at a random moment of a full ingest (timed first), half the time while its rows move from
  the staging table into the event log (the window seen in the timed run), then run again to
  the end: the store must hold exactly the file's rows (by event id, none twice), the
  killed run a prefix of them, and pass the integrity check.
- **train**: ``shopsense train --no-gate`` on a small trained sample shop (``--products`` x
  ``--users``), killed at a random moment of a full training run's duration (measured
  first). Every listed bundle must load (``ModelSet.load``, as the server does), a server
  started afterwards must serve the newest published bundle (``GET /recommendations`` 200
  with items), and a following ``shopsense train --no-gate`` must publish a loadable
  bundle. ``--no-gate``: the quality gate judges models, not durability.
- **swap**: a server on the same shop answers ``GET /recommendations`` to a client thread
  throughout. A ``shopsense train`` is killed inside its publish step (a random moment while
  its bundle is staged, the window measured with the full run above) and the server told
  to ``POST /admin/reload``; then it swaps bundles four times (to another published one by
  ``POST /admin/models/ID/activate``, back by ``POST /admin/reload``, twice) and is killed at
  a random moment of a fifth swap (within the longest of the four). Restarted, it must serve
  the newest published bundle (200 with items), every listed bundle must load, and no
  answer before the kill may have been an error.
  The client asks about 20 times a second: the server logs the impressions of every list
  it serves, so a faster client grows the log each round's training reads (at 100 a second
  a swap round grew from about 1 to over 7 minutes by round 7 of the first full run).

Targets (issue 12): >= 10 rounds of each kind, 0 acknowledged events lost or doubled, 0
corrupt stores; here also 0 unloadable bundles, 0 failed restarts and no other problem.

Writes ``benchmarks/results/kill_rounds.json`` after every kind (a run stopped later keeps
what finished) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ingest_throughput import make_events, write
from shopsense.config import Settings
from shopsense.domain import Product
from shopsense.recommend import ModelSet
from shopsense.store import ArtifactStore, open_store

KEY = "kill-rounds-key"
HEADERS = {"X-API-Key": KEY}
RESULTS = Path(__file__).parent / "results" / "kill_rounds.json"
CLI = [sys.executable, "-c", "from shopsense.cli import main; raise SystemExit(main())"]
ENV = os.environ | {"SHOPSENSE_API_KEY": KEY, "OPENBLAS_NUM_THREADS": "1"}
KINDS = ("server", "ingest", "train", "swap")
#: Events per posted batch and client threads of the server kind.
BATCH = 200
WORKERS = 4
#: Summed over the rounds of a kind (``None`` in the summary where no round has them); any
#: of the FAILURES makes a kind fail its target.
FAILURES = ("lost", "doubled", "corrupt_stores", "unloadable_bundles", "failed_restarts")
COUNTS = ("acknowledged", "stored", *FAILURES)
TARGET = (
    ">= 10 rounds of each kind, 0 acknowledged events lost or doubled, 0 corrupt stores, "
    "0 unloadable bundles, 0 failed restarts"
)

Round = dict[str, Any]


# --- processes ---------------------------------------------------------------------------
def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``shopsense ARGS`` in a session of its own (what outlives a kill can be found), its
    output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [*CLI, *args], env=ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def run_cli(args: list[str], log: Path) -> subprocess.CompletedProcess[bytes]:
    """``shopsense ARGS`` to the end, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.run([*CLI, *args], env=ENV, stdout=out, stderr=subprocess.STDOUT)


def kill_after(process: subprocess.Popen[bytes], delay_s: float) -> bool:
    """SIGKILL ``process`` ``delay_s`` from now unless it exits first; ``True`` if killed."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=max(delay_s, 0.0))
        return False
    os.kill(process.pid, signal.SIGKILL)
    return process.wait() == -signal.SIGKILL


def kill_run(
    args: list[str], log: Path, delay_s: float, reset: Callable[[], object] = lambda: None
) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``shopsense ARGS`` and SIGKILL it after ``delay_s``. A run that ends first (the
    machine is faster than when it was timed) is started again, after ``reset``, with a
    delay a fifth shorter, up to five times; returns the last run and its delay."""
    for _ in range(5):
        reset()
        process = start(args, log)
        if kill_after(process, delay_s):
            break
        delay_s *= 0.8
    return process, delay_s


def outlived(process: subprocess.Popen[bytes]) -> bool:
    """Whether processes of ``process``'s session are still alive (they are killed)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a minute; nothing of its session is left."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    outlived(process)


def start_server(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return start(["--data-dir", str(data), "serve", "--port", str(port), "--no-search"], log)


def wait_healthy(
    server: subprocess.Popen[bytes], port: int, timeout_s: float = 180.0
) -> dict[str, Any] | None:
    """``GET /health`` once it answers 200 (``None``: the server died or never answered)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            if answer.status_code == 200:
                body: dict[str, Any] = answer.json()
                return body
        time.sleep(0.1)
    return None


# --- stores and bundles ------------------------------------------------------------------
@dataclass
class StoreState:
    """What a store holds after a kill, read the way the next process would."""

    counts: Counter[str]
    integrity: str
    staging_tables: int

    @property
    def doubled(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)


def database_file(data: Path) -> Path:
    url = Settings(data_dir=data).database_url
    if not url.startswith("sqlite:///"):
        raise SystemExit("kill rounds check SQLite stores: unset SHOPSENSE_DATABASE_URL")
    return Path(url.removeprefix("sqlite:///"))


def event_rows(data: Path) -> int:
    """Rows in the store's event log, read only (0 while there is none)."""
    uri = f"file:{database_file(data)}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def inspect_store(data: Path) -> StoreState:
    """``PRAGMA integrity_check`` on the file as the kill left it, then every stored event id
    through ``open_store`` (which recovers the WAL, as a restart does)."""
    data.mkdir(parents=True, exist_ok=True)  # a process killed early may not have made it
    with contextlib.closing(sqlite3.connect(database_file(data))) as db:
        integrity = "; ".join(str(row[0]) for row in db.execute("PRAGMA integrity_check"))
        staging = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'staging%'"
        ).fetchone()[0]
    store = open_store(Settings(data_dir=data))
    try:
        counts = Counter(str(i) for b in store.events.iter_batches() for i in b.event_id)
    finally:
        store.close()
    return StoreState(counts, integrity[:300], int(staging))


@dataclass
class BundleCheck:
    """Loads every listed bundle once (bundles do not change after they are listed)."""

    artifacts: ArtifactStore
    errors: dict[str, str | None] = field(default_factory=dict)

    def unloadable(self) -> list[str]:
        """``bundle id: error`` of each listed bundle that does not load as the server does."""
        for bundle in self.artifacts.list():
            if bundle.id not in self.errors:
                try:
                    ModelSet.load(bundle).warm_up()
                    self.errors[bundle.id] = None
                except Exception as exc:  # any damage is one finding
                    self.errors[bundle.id] = f"{type(exc).__name__}: {exc}"[:300]
        listed = {b.id for b in self.artifacts.list()}
        return [f"{i}: {e}" for i, e in self.errors.items() if e is not None and i in listed]


def new_staging(artifacts: ArtifactStore, known: set[str]) -> set[str]:
    """Staged bundle directories (being written, or left by a kill) not in ``known``."""
    staging = artifacts.root / ".staging"
    return {p.name for p in staging.iterdir()} - known if staging.exists() else set()


def check_serving(port: int, user: str, artifacts: ArtifactStore) -> str | None:
    """Why the server on ``port`` does not serve the newest published bundle (``None``: it
    does: ``/health`` names it, no load error, recommendations 200 with items from it)."""
    latest = artifacts.latest()
    expected = latest.id if latest else None
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        answer = httpx.get(
            f"http://127.0.0.1:{port}/recommendations/{user}", params={"n": 5}, timeout=30
        )
    except httpx.HTTPError as exc:
        return f"no answer: {type(exc).__name__}: {exc}"
    if health.get("bundle") != expected or health.get("bundle_error"):
        return f"health {health}, newest published bundle {expected}"
    if answer.status_code != 200:
        return f"recommendations answered {answer.status_code}: {answer.text[:200]}"
    body = answer.json()
    if not body.get("items") or body.get("bundle") != expected:
        return f"recommendations from bundle {body.get('bundle')} with {body.get('items')}"
    return None


# --- the sample shop (train and swap) ----------------------------------------------------
@dataclass
class Shop:
    """A small trained shop and how long a training run on it takes."""

    data: Path
    artifacts: ArtifactStore
    users: list[str]
    train_s: float
    #: How long a training run's bundle stays staged (written, not yet renamed into place).
    publish_s: float
    bundles: BundleCheck


def train_args(shop: Path) -> list[str]:
    return ["--data-dir", str(shop), "train", "--no-gate"]


def prepare_shop(root: Path, products: int, users: int, log: Path) -> Shop:
    """Build the shop (``shopsense demo``) unless there is one, then time one full training
    run, watching when its bundle is staged and renamed into place."""
    data = root / "shop"
    artifacts = ArtifactStore(Settings(data_dir=data).artifacts_dir)
    if artifacts.latest() is None:
        print(f"building the sample shop ({products} products, {users} shoppers)", flush=True)
        shop_args = ["demo", "--no-serve", "--products", str(products), "--users", str(users)]
        if run_cli(["--data-dir", str(data), *shop_args], log).returncode != 0:
            raise SystemExit(f"shopsense demo failed; see {log}")
    print("timing one training run", flush=True)
    known = new_staging(artifacts, set())
    began = time.perf_counter()
    process = start(train_args(data), log)
    staged_at = staged_until = None
    while process.poll() is None:
        staged = bool(new_staging(artifacts, known))
        now = time.perf_counter() - began
        if staged and staged_at is None:
            staged_at = now
        if staged:
            staged_until = now
        time.sleep(0.01)
    train_s = time.perf_counter() - began
    if process.returncode != 0 or staged_at is None or staged_until is None:
        raise SystemExit(f"the timed training run failed (exit {process.returncode}); see {log}")
    store = open_store(Settings(data_dir=data))
    try:
        shoppers = sorted({str(u) for b in store.events.iter_batches() for u in b.user_id})
    finally:
        store.close()
    print(f"  {train_s:.1f} s, its bundle staged for {staged_until - staged_at:.2f} s", flush=True)
    return Shop(
        data, artifacts, shoppers, train_s, staged_until - staged_at, BundleCheck(artifacts)
    )


# --- the four kinds ----------------------------------------------------------------------
@dataclass
class Burst:
    """Client threads posting batches of new events until the server goes."""

    url: str
    number: int
    acked: set[str] = field(default_factory=set)
    #: (worker, batch) -> the batch's event ids, acknowledged or not.
    sent: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, worker: int) -> None:
        with httpx.Client(headers=HEADERS, timeout=10) as client:
            for batch in range(100_000):
                ids = [f"r{self.number}-w{worker}-b{batch}-{i}" for i in range(BATCH)]
                events = [
                    {"event_id": e, "user_id": f"u{(worker * 7 + i) % 40}", "kind": "view",
                     "item_id": f"P{i % 20}"}
                    for i, e in enumerate(ids)
                ]  # fmt: skip
                with self.lock:
                    self.sent[(worker, batch)] = ids
                try:
                    answer = client.post(self.url, json={"events": events})
                except httpx.HTTPError:
                    return
                with self.lock:
                    if answer.status_code == 200:
                        self.acked.update(ids)
                    else:
                        self.refused[str(answer.status_code)] += 1


def server_rounds(rounds: int, root: Path, rng: random.Random, port: int) -> Iterator[Round]:
    data = root / "server"
    shutil.rmtree(data, ignore_errors=True)  # a kept --data-dir starts afresh
    log = root / "logs" / "server.log"
    store = open_store(Settings(data_dir=data))
    store.catalog.upsert([Product(id=f"P{i}", title=f"Product {i}") for i in range(20)])
    store.close()
    url = f"http://127.0.0.1:{port}/events"
    acked_before: set[str] = set()  # earlier rounds' and the writes after each restart
    server = start_server(data, port, log)
    if wait_healthy(server, port) is None:
        raise SystemExit(f"the server did not start; see {log}")
    try:
        for number in range(rounds):
            began = time.perf_counter()
            burst = Burst(url, number)
            workers = [threading.Thread(target=burst.post, args=(w,)) for w in range(WORKERS)]
            for w in workers:
                w.start()
            deadline = time.monotonic() + 60
            while not burst.acked and time.monotonic() < deadline:
                time.sleep(0.01)
            delay = rng.uniform(0.3, 2.0)
            killed = kill_after(server, delay)
            orphans = outlived(server)
            for w in workers:
                w.join()

            state = inspect_store(data)
            acked = burst.acked
            stored = {i for i in state.counts if i.startswith(f"r{number}-")}
            all_sent = {i for ids in burst.sent.values() for i in ids}
            partial = [
                k for k, ids in burst.sent.items() if 0 < len(stored.intersection(ids)) < BATCH
            ]
            problems = []
            if not killed:
                problems.append("the server exited before the kill")
            if orphans:
                problems.append("processes of the killed server outlived it")
            if burst.refused:
                problems.append(f"batches refused: {dict(burst.refused)}")
            if stored - all_sent:
                problems.append(f"{len(stored - all_sent)} stored events were never sent")
            if partial:
                problems.append(f"{len(partial)} batches stored in part, e.g. {partial[0]}")
            if acked_before - set(state.counts):
                problems.append(f"{len(acked_before - set(state.counts))} earlier events lost")

            restarting = time.perf_counter()
            server = start_server(data, port, log)
            restarted = wait_healthy(server, port) is not None
            restart_s = time.perf_counter() - restarting
            probe = {"event_id": f"r{number}-probe", "user_id": "u0", "kind": "view",
                     "item_id": "P0"}  # fmt: skip
            try:
                answer = httpx.post(url, json={"events": [probe]}, headers=HEADERS, timeout=30)
                took_write = answer.status_code == 200
            except httpx.HTTPError:
                took_write = False
            if took_write:
                acked_before.add(f"r{number}-probe")
            acked_before |= acked
            yield {
                "round": number,
                "seconds": round(time.perf_counter() - began, 1),
                "kill_after_s": round(delay, 2),
                "acknowledged": len(acked),
                "stored": len(acked & stored),
                "lost": len(acked - stored),
                "doubled": state.doubled,
                "stored_unacknowledged": len(stored - acked),
                "corrupt_stores": int(state.integrity != "ok"),
                "integrity": state.integrity,
                "failed_restarts": int(not (restarted and took_write)),
                "restart_s": round(restart_s, 2),
                "problems": problems,
            }
            if not restarted:
                break
    finally:
        stop(server)


def ingest_rounds(
    rounds: int, root: Path, rng: random.Random, rows: int, seed: int
) -> Iterator[Round]:
    folder = root / "ingest"
    shutil.rmtree(folder, ignore_errors=True)  # a kept --data-dir starts afresh
    folder.mkdir(parents=True)
    log = root / "logs" / "ingest.log"
    table = make_events(rows, seed=seed)
    path = write(table, folder, "csv")
    order = [str(i) for i in table.column("event_id").to_pylist()]
    expected = set(order)

    def ingest(data: Path) -> list[str]:
        return ["--data-dir", str(data), "ingest", "events", str(path), "--allow-unknown-items"]

    print(f"timing one ingest of {rows:,} rows", flush=True)
    full = folder / "full"
    process = start(ingest(full), log)
    began = time.perf_counter()
    moving: list[float] = []  # when the event log held some but not all of the rows
    while process.poll() is None:
        if 0 < event_rows(full) < rows:
            moving.append(time.perf_counter() - began)
        time.sleep(0.02)
    full_s = time.perf_counter() - began
    if process.returncode != 0 or set(inspect_store(full).counts) != expected:
        raise SystemExit(f"the timed ingest failed (exit {process.returncode}); see {log}")
    shutil.rmtree(full)
    window = (min(moving), max(moving)) if moving else (0.05 * full_s, 0.95 * full_s)
    print(f"  {full_s:.1f} s, rows moving into the event log {window[0]:.1f}-{window[1]:.1f} s")
    for number in range(rounds):
        began = time.perf_counter()
        data = folder / f"round-{number}"
        in_move = rng.random() < 0.5
        delay = rng.uniform(*window) if in_move else rng.uniform(0.05, 0.95) * full_s
        fresh = functools.partial(shutil.rmtree, data, ignore_errors=True)
        process, delay = kill_run(ingest(data), log, delay, fresh)
        killed = process.returncode == -signal.SIGKILL
        orphans = outlived(process)
        after_kill = inspect_store(data)
        prefix = set(order[: len(after_kill.counts)]) == set(after_kill.counts)
        rerun = run_cli(ingest(data), log)
        state = inspect_store(data)
        stored = set(state.counts)
        problems = []
        if not killed:
            problems.append("the ingest finished before the kill")
        if orphans:
            problems.append("processes of the killed ingest outlived it")
        if after_kill.doubled or set(after_kill.counts) - expected:
            problems.append("the killed ingest stored doubled or foreign events")
        if not prefix:
            problems.append("the killed ingest stored more than a prefix of the file")
        if stored - expected:
            problems.append(f"{len(stored - expected)} stored events are not in the file")
        corrupt = after_kill.integrity != "ok" or state.integrity != "ok"
        finished = rerun.returncode == 0
        yield {
            "round": number,
            "seconds": round(time.perf_counter() - began, 1),
            "kill_after_s": round(delay, 2),
            "aimed_at_the_move": in_move,
            "stored_by_killed_run": len(after_kill.counts),
            "acknowledged": rows if finished else 0,
            "stored": len(expected & stored) if finished else 0,
            "lost": len(expected - stored) if finished else 0,
            "doubled": state.doubled,
            "corrupt_stores": int(corrupt),
            "integrity": [after_kill.integrity, state.integrity],
            "staging_tables_left": state.staging_tables,
            "failed_restarts": int(not finished),
            "problems": problems,
        }
        if not problems and not corrupt and finished and state.doubled == 0:
            shutil.rmtree(data)


def train_rounds(
    rounds: int, root: Path, rng: random.Random, port: int, shop: Shop
) -> Iterator[Round]:
    log = root / "logs" / "train.log"
    for number in range(rounds):
        began = time.perf_counter()
        listed = {b.id for b in shop.artifacts.list()}
        known = new_staging(shop.artifacts, set())
        delay = rng.uniform(0.05, 1.0) * shop.train_s
        process, delay = kill_run(train_args(shop.data), log, delay)
        killed = process.returncode == -signal.SIGKILL
        left = new_staging(shop.artifacts, known)
        appeared = [b.id for b in shop.artifacts.list() if b.id not in listed]
        unloadable = shop.bundles.unloadable()
        problems = (
            [] if killed else [f"the training run ended before the kill ({process.returncode})"]
        )
        if outlived(process):
            problems.append("processes of the killed training run outlived it")
        server = start_server(shop.data, port, log)
        try:
            served = wait_healthy(server, port) is not None
            why = check_serving(port, rng.choice(shop.users), shop.artifacts) if served else None
        finally:
            stop(server)
        if why:
            problems.append(f"after the kill: {why}")
        integrity = inspect_store(shop.data).integrity
        before = shop.artifacts.latest()
        retrain = run_cli(train_args(shop.data), log).returncode
        retrained = retrain == 0
        latest = shop.artifacts.latest()
        unloadable += shop.bundles.unloadable()
        if not retrained:
            problems.append(f"the following training run failed (exit {retrain})")
        elif latest is None or before is None or latest.id == before.id:
            problems.append("the following training run published no new bundle")
        yield {
            "round": number,
            "seconds": round(time.perf_counter() - began, 1),
            "kill_after_s": round(delay, 2),
            "bundle_listed_by_killed_run": appeared,
            "staged_left_by_killed_run": sorted(left),
            "unloadable_bundles": len(set(unloadable)),
            "unloadable": sorted(set(unloadable)),
            "corrupt_stores": int(integrity != "ok"),
            "integrity": integrity,
            "failed_restarts": int(not served or why is not None or not retrained),
            "problems": problems,
        }


@dataclass
class Recommendations:
    """A client asking for recommendations, about 20 a second, until the server goes or
    ``stop`` is set (each served list is logged as impressions the next training reads)."""

    port: int
    users: list[str]
    rng: random.Random
    answers: Counter[str] = field(default_factory=Counter)
    empty: int = 0
    ended_by: str = ""
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30) as client:
            while not self.stop.is_set():
                user = self.rng.choice(self.users)
                try:
                    answer = client.get(f"/recommendations/{user}", params={"n": 5})
                except httpx.HTTPError as exc:
                    self.ended_by = type(exc).__name__
                    return
                self.answers[str(answer.status_code)] += 1
                if answer.status_code == 200 and not answer.json().get("items"):
                    self.empty += 1
                time.sleep(0.05)


def timed_post(client: httpx.Client, path: str) -> tuple[float, int]:
    began = time.perf_counter()
    status = client.post(path, headers=HEADERS).status_code
    return time.perf_counter() - began, status


def kill_train_in_publish(shop: Shop, rng: random.Random, log: Path) -> dict[str, Any]:
    """Start a training run and SIGKILL it at a random moment while its bundle is staged."""
    known = new_staging(shop.artifacts, set())
    listed = {b.id for b in shop.artifacts.list()}
    process = start(train_args(shop.data), log)
    while process.poll() is None and not new_staging(shop.artifacts, known):
        time.sleep(0.01)
    delay = rng.uniform(0.0, shop.publish_s)
    killed = kill_after(process, delay)
    staged = new_staging(shop.artifacts, known)
    return {
        "exit": process.returncode,
        "killed": killed,
        "kill_after_staging_s": round(delay, 2),
        "mid_publish": killed and bool(staged),
        "staged_left": sorted(staged),
        "listed": [b.id for b in shop.artifacts.list() if b.id not in listed],
        "orphans": outlived(process),
    }


def swap_rounds(
    rounds: int, root: Path, rng: random.Random, port: int, shop: Shop
) -> Iterator[Round]:
    log = root / "logs" / "swap.log"
    base = f"http://127.0.0.1:{port}"
    server = start_server(shop.data, port, log)
    if wait_healthy(server, port) is None:
        raise SystemExit(f"the server did not start; see {log}")
    try:
        for number in range(rounds):
            began = time.perf_counter()
            problems: list[str] = []
            client = Recommendations(port, shop.users, random.Random(rng.random()))
            reader = threading.Thread(target=client.run)
            reader.start()
            train = kill_train_in_publish(shop, rng, log)
            if train["orphans"]:
                problems.append("processes of the killed training run outlived it")
            if train["exit"] not in (0, -signal.SIGKILL):
                problems.append(f"the training run failed before the kill ({train['exit']})")
            swaps: list[float] = []
            with httpx.Client(base_url=base, timeout=120) as admin:
                _, status = timed_post(admin, "/admin/reload")
                if status != 200:
                    problems.append(f"reload after the killed training run: {status}")
                for _ in range(2):
                    serving = admin.get("/health").json()["bundle"]
                    others = [b.id for b in shop.artifacts.list() if b.published]
                    target = rng.choice([b for b in others if b != serving] or others)
                    seconds, status = timed_post(admin, f"/admin/models/{target}/activate")
                    swaps.append(seconds)
                    if status != 200:
                        problems.append(f"activating {target}: {status}")
                    seconds, status = timed_post(admin, "/admin/reload")
                    swaps.append(seconds)
                    if status != 200:
                        problems.append(f"reload: {status}")
            target = rng.choice([b.id for b in shop.artifacts.list() if b.published])
            answered: list[int] = []

            def swap(target: str = target, answered: list[int] = answered) -> None:
                path = f"/admin/models/{target}/activate"
                with (
                    httpx.Client(base_url=base, timeout=120) as admin,
                    contextlib.suppress(httpx.HTTPError),
                ):
                    answered.append(timed_post(admin, path)[1])

            swapper = threading.Thread(target=swap)
            swapper.start()
            delay = rng.uniform(0.0, max(swaps))
            killed = kill_after(server, delay)
            orphans = outlived(server)
            swapper.join()
            client.stop.set()
            reader.join()
            if not killed:
                problems.append("the server exited before the kill")
            if orphans:
                problems.append("processes of the killed server outlived it")
            errors = {s: n for s, n in client.answers.items() if s != "200"}
            if errors or client.empty:
                problems.append(f"answers before the kill: {errors}, {client.empty} empty")

            restarting = time.perf_counter()
            server = start_server(shop.data, port, log)
            restarted = wait_healthy(server, port) is not None
            restart_s = time.perf_counter() - restarting
            why = check_serving(port, rng.choice(shop.users), shop.artifacts) if restarted else None
            if why:
                problems.append(f"after the restart: {why}")
            unloadable = shop.bundles.unloadable()
            integrity = inspect_store(shop.data).integrity
            yield {
                "round": number,
                "seconds": round(time.perf_counter() - began, 1),
                "train": {k: v for k, v in train.items() if k != "orphans"},
                "swap_s": [round(s, 2) for s in swaps],
                "kill_after_s": round(delay, 2),
                "killed_mid_swap": not answered,
                "answers_before_kill": dict(client.answers),
                "client_ended_by": client.ended_by,
                "unloadable_bundles": len(unloadable),
                "unloadable": unloadable,
                "corrupt_stores": int(integrity != "ok"),
                "integrity": integrity,
                "failed_restarts": int(not restarted or why is not None),
                "restart_s": round(restart_s, 2),
                "problems": problems,
            }
            if not restarted:
                break
    finally:
        stop(server)


# --- summary -----------------------------------------------------------------------------
def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def summarise(details: list[Round], wall_s: float) -> dict[str, Any]:
    summary: dict[str, Any] = {"rounds": len(details)}
    for name in COUNTS:
        present = [d[name] for d in details if name in d]
        summary[name] = sum(present) if present else None
    summary["problems"] = sum(len(d["problems"]) for d in details)
    summary["clean"] = not summary["problems"] and not any(summary[n] for n in FAILURES)
    summary["met"] = summary["clean"] and len(details) >= 10
    summary["wall_s"] = round(wall_s, 1)
    seconds = [d["seconds"] for d in details]
    summary["seconds_per_round"] = round(sum(seconds) / len(seconds), 1) if seconds else None
    summary["details"] = details
    return summary


def table(kinds: dict[str, dict[str, Any]]) -> str:
    head = ["kind", "rounds", *(n.replace("_", " ") for n in COUNTS), "problems", "s / round"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, s in kinds.items():
        cells = [kind, s["rounds"], *(s[n] for n in COUNTS), s["problems"], s["seconds_per_round"]]
        lines.append("| " + " | ".join("-" if c is None else f"{c}" for c in cells) + " |")
    return "\n".join(lines)


def kind_rounds(
    kind: str, args: argparse.Namespace, root: Path, rng: random.Random, shop: Shop | None
) -> Iterator[Round]:
    if kind == "server":
        return server_rounds(args.rounds, root, rng, args.port)
    if kind == "ingest":
        return ingest_rounds(args.rounds, root, rng, args.ingest_rows, args.seed)
    assert shop is not None
    if kind == "train":
        return train_rounds(args.rounds, root, rng, args.port, shop)
    return swap_rounds(args.rounds, root, rng, args.port, shop)


def results(
    args: argparse.Namespace,
    shop: Shop | None,
    setup_s: dict[str, float],
    kinds: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The results file's body for the kinds finished so far."""
    return {
        "machine": {
            "cpu": platform.machine(),
            "model": cpu_model(),
            "cores": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "seed": args.seed,
        "rounds_asked": args.rounds,
        "ingest_rows": args.ingest_rows,
        "shop": {"products": args.products, "users": args.users},
        "train_s": round(shop.train_s, 1) if shop else None,
        "publish_s": round(shop.publish_s, 2) if shop else None,
        "setup_s": setup_s,
        "target": TARGET,
        "kinds": kinds,
        "met": all(k["met"] for k in kinds.values()) and set(kinds) == set(KINDS),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each kind")
    parser.add_argument("--only", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ingest-rows", type=int, default=150_000)
    parser.add_argument("--products", type=int, default=300, help="sample shop (train, swap)")
    parser.add_argument("--users", type=int, default=200, help="sample shop (train, swap)")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument(
        "--data-dir", type=Path, help="kept afterwards, its shop reused (default: a temp dir)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    if unknown := set(only) - set(KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    with contextlib.ExitStack() as stack:
        if args.data_dir is None:
            temp = stack.enter_context(tempfile.TemporaryDirectory(prefix="shopsense-kills-"))
            root = Path(temp)
        else:
            root = args.data_dir
        (root / "logs").mkdir(parents=True, exist_ok=True)
        shop: Shop | None = None
        kinds: dict[str, dict[str, Any]] = {}
        setup_s: dict[str, float] = {}
        for kind in only:
            rng = random.Random(f"{args.seed}:{kind}")
            began = time.perf_counter()
            if kind in ("train", "swap") and shop is None:
                shop = prepare_shop(root, args.products, args.users, root / "logs" / "shop.log")
                setup_s["shop"] = round(time.perf_counter() - began, 1)
                began = time.perf_counter()
            details = []
            for detail in kind_rounds(kind, args, root, rng, shop):
                details.append(detail)
                failed = {n: detail[n] for n in FAILURES if detail.get(n)}
                verdict = "; ".join(detail["problems"]) or ("FAILED" if failed else "ok")
                print(f"{kind} round {detail['round']}: {failed or ''} {verdict}", flush=True)
            kinds[kind] = summarise(details, time.perf_counter() - began)
            # written after every kind: a run stopped later keeps what finished
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results(args, shop, setup_s, kinds), indent=1))
    print()
    print(table(kinds))
    met = all(k["met"] for k in kinds.values()) and set(kinds) == set(KINDS)
    print(f"\ntarget (issue 12): {TARGET}: {'met' if met else 'not met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
