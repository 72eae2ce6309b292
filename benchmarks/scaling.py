"""Training at growing sizes: the local engine against Spark (issue 13, item 6).

    python benchmarks/scaling.py --sizes 2000x1000 --out results/scaling_100k.json
    python benchmarks/scaling.py --sizes 20000x10000 --models popularity,als \
        --out results/scaling_1m_als.json
    python benchmarks/scaling.py --sizes 20000x10000,100000x100000 --steps ingest \
        --out results/scaling_ingest.json

For each size (``PRODUCTSxSHOPPERS`` of the sample shop) in a fresh data directory:
``shopsense generate``, ``ingest catalog``, ``ingest events``, then ``train`` (local
engine) and ``train --engine spark --spark-master MASTER`` (which exports the events to
Parquet first; its time includes the export), each with ``--no-gate`` so both publish.
``--models`` narrows the retrieval models both engines try (the Spark engine trains
popularity and ALS). The two are not like for like even then: the local engine also trains
the feedback ranker (cross-fitted, once the log has impressions with clicks) and the item
tower, which the Spark engine leaves out; without ``--models`` the local engine tries its
whole default set of retrieval models.

``--steps ingest`` stops after the ingests (generate and ingest only: the sizes where
training locally would take hours). Every step runs as its own command; its wall time and
peak memory (the resident set of the command and every process it started, summed: Spark's
JVM included) are sampled every 0.2 s from ``/proc``. Writes ``--out`` (default
``results/scaling.json``) after each size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

RESULTS = Path(__file__).resolve().parent / "results"
CLI = "from shopsense.cli import main; raise SystemExit(main())"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in KiB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        todo.extend(children.get(pid, []))
    return total


def step(data_dir: Path, *args: str) -> dict[str, float]:
    """Run ``shopsense --data-dir DATA_DIR --quiet ARGS``: seconds and peak tree RSS (MiB)."""
    command = [sys.executable, "-c", CLI, "--data-dir", str(data_dir), "--quiet", *args]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if status != 0:
        raise SystemExit(f"shopsense {' '.join(args)} failed (status {status})")
    return {"seconds": seconds, "peak_rss_mb": peak / 1024}


def run(
    products: int, users: int, master: str, models: str | None, train: bool = True
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data, shop = Path(tmp) / "data", Path(tmp) / "shop"
        row: dict[str, Any] = {"products": products, "users": users}
        row["generate"] = step(
            data, "generate", "--out", str(shop), "--products", str(products), "--users", str(users)
        )
        events = pq.ParquetFile(shop / "events.parquet").metadata.num_rows
        row["events"] = events
        row["ingest_catalog"] = step(data, "ingest", "catalog", str(shop / "catalog.jsonl"))
        row["ingest_events"] = step(data, "ingest", "events", str(shop / "events.parquet"))
        if not train:
            for name in ("generate", "ingest_events"):
                row[name]["events_per_s"] = events / row[name]["seconds"]
            return row
        narrowed = ["--models", models] if models else []
        row["models"] = models or "default"
        row["train_local"] = step(data, "train", "--no-gate", *narrowed)
        row["train_spark"] = step(
            data, "train", "--no-gate", "--engine", "spark", "--spark-master", master, *narrowed
        )
        for name in ("generate", "ingest_events", "train_local", "train_spark"):
            row[name]["events_per_s"] = events / row[name]["seconds"]
        bundles = sorted((data / "artifacts" / "bundles").glob("*/manifest.json"))
        row["validation_ndcg@10"] = {
            json.loads(b.read_text()).get("engine", "local"): json.loads(b.read_text())["stack"][
                "validation_ndcg@10"
            ]
            for b in bundles
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000x1000,20000x10000", help="PRODUCTSxSHOPPERS,...")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--models", help="retrieval models both engines try (default: each its own)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "scaling.json")
    parser.add_argument("--steps", choices=["all", "ingest"], default="all")
    args = parser.parse_args()
    rows = []
    print("| products x shoppers | events | ingest | train local | train Spark | NDCG@10 l / S |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        products, users = (int(x) for x in size.split("x"))
        row = run(products, users, args.master, args.models, train=args.steps == "all")
        rows.append(row)
        machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        summary = {"machine": machine, "master": args.master, "results": rows}
        args.out.write_text(json.dumps(summary, indent=1))  # after each size
        if args.steps == "ingest":
            gen, ing = row["generate"], row["ingest_events"]
            print(
                f"| {products} x {users} | {row['events']} | generate {gen['seconds']:.0f} s, "
                f"{gen['peak_rss_mb']:.0f} MB | ingest {ing['seconds']:.0f} s, "
                f"{ing['peak_rss_mb']:.0f} MB, {ing['events_per_s']:,.0f} events/s |",
                flush=True,
            )
            continue

        def cell(name: str, row: dict[str, Any] = row) -> str:
            r = row[name]
            return f"{r['seconds']:.0f} s, {r['peak_rss_mb']:.0f} MB"

        ndcg = row["validation_ndcg@10"]
        print(
            f"| {products} x {users} | {row['events']} | {cell('ingest_events')} "
            f"| {cell('train_local')} | {cell('train_spark')} "
            f"| {ndcg.get('local', float('nan')):.4f} / {ndcg.get('spark', float('nan')):.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
