"""API writes while a big file is ingested into the same store (issue 12: writes never wait).

    python benchmarks/ingest_while_serving.py                     # 1M events, ~3 min
    python benchmarks/ingest_while_serving.py --events 100000     # a quick look

Builds a small trained shop, starts ``shopsense serve`` on it, then runs ``shopsense ingest
events`` on a synthetic file of ``--events`` rows (``ingest_throughput.make_events``, every
product allowed) in a second process, while this process posts one event every
``--interval`` seconds to ``POST /events`` and times each answer. Reports the answers'
p50 / p99 / max latency and errors during the ingest, the ingest's own rate, and whether
the store ends with exactly the file's rows plus the acknowledged API events. Target
(issue 12): API write p99 <= 1 s during a 1M-row ingest, no error.

Writes ``benchmarks/results/ingest_while_serving.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from ingest_throughput import make_events, write
from serve_load import HEADERS, KEY, start_server
from shopsense.config import Settings
from shopsense.store import open_store

RESULTS = Path(__file__).parent / "results" / "ingest_while_serving.json"
CLI = [sys.executable, "-c", "from shopsense.cli import main; raise SystemExit(main())"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between API writes")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    env = os.environ | {"SHOPSENSE_API_KEY": KEY, "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="shopsense-ingest-serve-") as tmp:
        data = Path(tmp) / "data"
        print("building the sample shop", flush=True)
        shop = ["--products", "300", "--users", "100"]
        subprocess.run([*CLI, "--data-dir", str(data), "demo", "--no-serve", *shop],
                       check=True, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        settings = Settings(data_dir=data)
        store = open_store(settings)
        item = sorted(store.catalog.ids())[0]
        before = store.events.count()
        store.close()
        path = write(make_events(args.events, seed=1), Path(tmp), "csv")
        server = start_server(settings, args.port, search=False)
        latencies: list[float] = []
        failures: dict[str, int] = {}
        acknowledged = 0
        try:
            ingest = subprocess.Popen(
                [*CLI, "--data-dir", str(data), "ingest", "events", str(path),
                 "--allow-unknown-items", "--json"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            began = time.perf_counter()
            with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=60) as client:
                while ingest.poll() is None:
                    event = {"event_id": "w-" + uuid.uuid4().hex, "user_id": "writer",
                             "kind": "view", "item_id": item}  # fmt: skip
                    sent = time.perf_counter()
                    try:
                        answer = client.post("/events", json={"events": [event]}, headers=HEADERS)
                        status = str(answer.status_code)
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    latencies.append(time.perf_counter() - sent)
                    if status == "200":
                        acknowledged += 1
                    else:
                        failures[status] = failures.get(status, 0) + 1
                    time.sleep(max(0.0, args.interval - (time.perf_counter() - sent)))
            ingest_s = time.perf_counter() - began
            _, err = ingest.communicate()
            if ingest.returncode != 0:
                raise SystemExit(f"the ingest failed: {err[-2000:]}")
        finally:
            server.terminate()
            server.wait(timeout=60)
        store = open_store(settings)
        after = store.events.count()
        store.close()
    ms = np.array(latencies) * 1000
    exact = after - before == args.events + acknowledged
    result = {
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count()},
        "events": args.events,
        "ingest_seconds": round(ingest_s, 1),
        "ingest_events_per_s": round(args.events / ingest_s),
        "api_writes": len(latencies),
        "api_errors": failures,
        "api_p50_ms": round(float(np.percentile(ms, 50)), 1),
        "api_p99_ms": round(float(np.percentile(ms, 99)), 1),
        "api_max_ms": round(float(ms.max()), 1),
        "store_exact": exact,
        "target": "API write p99 <= 1000 ms, 0 errors, store = file rows + acknowledged writes",
        "met": bool(np.percentile(ms, 99) <= 1000 and not failures and exact),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
