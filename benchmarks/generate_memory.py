"""``shopsense generate`` at growing sizes: wall time, peak memory and events per second
(issue 13, item 1: the generator streams to disk, peak RSS <= 2 GiB at any size).

    python benchmarks/generate_memory.py --sizes 20000x10000,40000x20000

Each size runs the command in a fresh process (its own peak resident memory, from
``wait4``) into a temporary folder. Writes ``results/generate_memory.json``. Run it with
``PYTHONPATH`` at an older checkout to compare.
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
from pathlib import Path

import pyarrow.parquet as pq

RESULTS = Path(__file__).resolve().parent / "results"
CLI = "from shopsense.cli import main; raise SystemExit(main())"


def run(products: int, users: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "shop"
        args = ["--data-dir", tmp, "--quiet", "generate", "--out", str(out)]
        args += ["--products", str(products), "--users", str(users)]
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"generate failed at {products}x{users} (status {status})")
        events = pq.ParquetFile(out / "events.parquet").metadata.num_rows
    return {
        "products": products,
        "users": users,
        "events": events,
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "events_per_s": events / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000x10000", help="PRODUCTSxUSERS, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS / "generate_memory.json")
    args = parser.parse_args()
    rows = []
    print("| products x shoppers | events | seconds | events/s | peak RSS |")
    print("|---|---|---|---|---|")
    for size in args.sizes.split(","):
        products, users = (int(x) for x in size.split("x"))
        row = run(products, users)
        rows.append(row)
        print(
            f"| {products:,} x {users:,} | {row['events']:,} | {row['seconds']:.0f} "
            f"| {row['events_per_s']:,.0f} | {row['peak_rss_mb']:,.0f} MB |",
            flush=True,
        )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    args.out.write_text(json.dumps({"machine": machine, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
