"""Ingest throughput: events per second from a file into SQLite, validation included.

    python benchmarks/ingest_throughput.py [--events 500000] [--format csv|jsonl|parquet] [--runs 3]
        [--typed-timestamps] [--out FILE]

Writes a synthetic events file (realistic mix of kinds, string ids, ISO timestamps; with
``--typed-timestamps`` a Parquet file stores them as Arrow timestamps, as ``shopsense export``
does) into a temporary folder, then ingests it into a fresh SQLite store `--runs` times and
prints the median rate. A second pass over the same file measures the idempotent re-ingest.
Parquet files go through the column check of :mod:`shopsense.ingest.columnar`; CSV and
JSONL row by row. ``--out`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shopsense.ingest.ingester import ingest_events_file
from shopsense.store import SqlStore

KINDS = np.array(["impression", "view", "click", "add_to_cart", "purchase", "search"])
KIND_SHARE = [0.55, 0.2, 0.12, 0.05, 0.03, 0.05]


def make_events(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(KINDS, size=n, p=KIND_SHARE)
    users = rng.integers(0, 50_000, size=n)
    items = rng.integers(0, 20_000, size=n)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86_400 * 60, size=n))
    search = kinds == "search"
    purchase = kinds == "purchase"
    impression = kinds == "impression"
    return pa.table(
        {
            "event_id": [f"ev-{i:09d}" for i in range(n)],
            "user_id": [f"U{u:06d}" for u in users],
            "session_id": [f"S{u:06d}-{s // 1800}" for u, s in zip(users, seconds, strict=True)],
            "kind": kinds,
            "item_id": [None if s else f"P{i:06d}" for i, s in zip(items, search, strict=True)],
            "query": [("running shoes" if s else None) for s in search],
            "request_id": [f"R{i // 10}" if imp else None for i, imp in enumerate(impression)],
            "position": [i % 10 if imp else None for i, imp in enumerate(impression)],
            "quantity": [1 if p else None for p in purchase],
            "price": [19.99 if p else None for p in purchase],
            "timestamp": [(start + timedelta(seconds=int(s))).isoformat() for s in seconds],
        }
    )


def write(table: pa.Table, folder: Path, fmt: str, typed: bool = False) -> Path:
    path = folder / f"events.{fmt}"
    if typed:
        stamps = pc.cast(table["timestamp"], pa.timestamp("us", tz="UTC"))
        table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", stamps)
    if fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:
        with path.open("w") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--typed-timestamps", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.typed_timestamps and args.format != "parquet":
        parser.error("--typed-timestamps is for --format parquet")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write(make_events(args.events), folder, args.format, args.typed_timestamps)
        rates, again = [], []
        for run in range(args.runs):
            store = SqlStore(f"sqlite:///{folder / f'run{run}.db'}")
            started = time.perf_counter()
            report = ingest_events_file(store.events, path)
            rates.append(report.rows / (time.perf_counter() - started))
            assert report.written == args.events, report.summary()
            started = time.perf_counter()
            repeat = ingest_events_file(store.events, path)
            again.append(repeat.rows / (time.perf_counter() - started))
            assert repeat.written == 0 and store.events.count() == args.events
            store.close()
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, SQLite file store"
    )
    header = f"{'format':<8} {'events':>10} {'runs':>5} {'median events/s':>16}"
    print(f"{header} {'re-ingest events/s':>19}")
    print(
        f"{args.format:<8} {args.events:>10,} {args.runs:>5} {statistics.median(rates):>16,.0f} "
        f"{statistics.median(again):>19,.0f}"
    )
    if args.out is not None:
        import shopsense

        code = Path(shopsense.__file__).parent  # the checkout measured (PYTHONPATH may differ)
        commit = subprocess.run(
            ["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        result = {
            "command": "python benchmarks/ingest_throughput.py " + " ".join(sys.argv[1:]),
            "commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "format": args.format,
            "typed_timestamps": args.typed_timestamps,
            "events": args.events,
            "events_per_s_runs": [round(r) for r in rates],
            "events_per_s_median": round(statistics.median(rates)),
            "reingest_events_per_s_runs": [round(r) for r in again],
            "reingest_events_per_s_median": round(statistics.median(again)),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
