"""CPU time of one served "for you" list, in-process, on the serving benchmark's shop.

    python benchmarks/serve_cpu.py [--data-dir /tmp/serve-2k] [--requests 2000] [--runs 3]

Opens the server's state over the shop that ``serve_load.py`` prepared (restored as
prepared first), the result cache off, and calls the route's own function for
``--requests`` shoppers drawn from the shop's shoppers, one at a time, after one warm-up
request each. Impressions are logged and join the shoppers' histories as when serving;
only their database writes are left out (the writer thread's cost is what
``serve_load.py`` measures). Prints, and writes to ``--out``, the CPU milliseconds per
list (median over ``--runs``) and the share of lists the ranker answered (the rest: no
engagement yet, trending). No HTTP, no load generator: this isolates the ranking path
from the machine's other work, which makes the HTTP figures noisy on 2 shared cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from common import provenance
from serve_load import restore_shop
from shopsense.api.config import ServeConfig
from shopsense.api.routes import recommendations
from shopsense.api.state import ServingState
from shopsense.config import Settings
from shopsense.recommend.engine import ANY_IN_STOCK

RESULTS = Path(__file__).parent / "results" / "serve_cpu.json"


def one_run(settings: Settings, requests: int, seed: int) -> tuple[float, Counter[str]]:
    restore_shop(settings)
    state = ServingState.open(settings, ServeConfig(result_cache=0), search=False)
    try:
        if state.impressions is not None:
            state.impressions._write = lambda rows: None  # stores nothing (module doc)
        users = sorted({str(u) for b in state.store.events.iter_batches() for u in b.user_id})
        for user in users:
            recommendations(state, "for_you", user, 10, ANY_IN_STOCK)
        rng = random.Random(seed)
        picked = [rng.choice(users) for _ in range(requests)]
        strategies: Counter[str] = Counter()
        started = time.process_time()
        for user in picked:
            strategies[recommendations(state, "for_you", user, 10, ANY_IN_STOCK)["strategy"]] += 1
        return 1000 * (time.process_time() - started) / requests, strategies
    finally:
        state.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/serve-2k"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir)
    runs = [one_run(settings, args.requests, seed) for seed in range(args.runs)]
    per_list = [ms for ms, _ in runs]
    strategies = sum((s for _, s in runs), Counter())
    result = {
        "command": "python benchmarks/serve_cpu.py "
        f"--data-dir {args.data_dir} --requests {args.requests} --runs {args.runs}",
        **provenance(),
        "cpu_ms_per_list_median": round(statistics.median(per_list), 3),
        "cpu_ms_per_list_runs": [round(x, 3) for x in per_list],
        "strategies": dict(strategies),
        "ranker_share": round(strategies["ranker"] / max(sum(strategies.values()), 1), 3),
    }
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
