"""In-process `recommend()` latency for one shopper, per model.

    python benchmarks/recommend_latency.py [--dataset beauty] [--models popularity,als] \
        [--calls 2000]

Each model is fitted on the whole dataset with its default hyper-parameters (SASRec and the
item tower for 2 epochs only: latency does not depend on how well they learned), then
`model.recommend(user_id, n=10)` is timed for `--calls` random known shoppers (one call at a
time, single thread of the caller). Target (issue 3): median < 2 ms on Beauty's 12k items.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import DATASETS, load, provenance
from shopsense.models import MODELS

#: Latency does not depend on training quality: keep the neural models' fits short.
SHORT = {"sasrec": {"epochs": 2, "valid_fraction": 0.0}, "item_tower": {"epochs": 2}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="beauty", choices=sorted(DATASETS))
    default = ",".join(m for m in sorted(MODELS) if m != "hybrid")
    parser.add_argument("--models", default=default)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    data = load(args.dataset)
    rng = np.random.default_rng(args.seed)
    users = [data.users.id(int(u)) for u in rng.integers(0, data.n_users, size=args.calls)]
    print(
        f"dataset {args.dataset}: {data.n_users:,} users, {data.n_items:,} items; "
        f"{args.calls} calls of recommend(user, n=10)"
    )
    print(f"{'model':<14}{'median ms':>11}{'p90 ms':>9}{'p99 ms':>9}{'fit s':>8}")
    rows: dict[str, dict[str, float]] = {}
    for name in args.models.split(","):
        started = time.perf_counter()
        model = MODELS[name](**SHORT.get(name, {})).fit(data)
        fit_seconds = time.perf_counter() - started
        for user in users[:50]:  # warm-up
            model.recommend(user, n=10)
        timings = []
        for user in users:
            started = time.perf_counter()
            model.recommend(user, n=10)
            timings.append((time.perf_counter() - started) * 1000)
        p50, p90, p99 = np.percentile(timings, [50, 90, 99])
        print(f"{name:<14}{p50:>11.3f}{p90:>9.3f}{p99:>9.3f}{fit_seconds:>8.1f}")
        rows[name] = {"p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "fit_s": fit_seconds}
    if args.out is not None:
        body = {"command": " ".join(["python benchmarks/recommend_latency.py", *sys.argv[1:]])}
        body |= provenance() | {"dataset": args.dataset, "calls": args.calls, "models": rows}
        args.out.write_text(json.dumps(body, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
