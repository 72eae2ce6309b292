"""The served stack against single retrieval models, on levelled data, in the shop simulator.

    python benchmarks/simulate_served.py                         # ~40 min on 2 cores
    python benchmarks/simulate_served.py --sessions 1500 --explore-sessions 1500   # a quick look

1. ``shopsense demo --no-serve``: the sample shop (``--products`` x ``--users``, seed 7),
   ingested and trained into a fresh data directory: the default stack, as ``shopsense
   train`` builds it.
2. ``shopsense serve`` on that directory (search included, default settings: exploration
   2%, impressions logged with propensities).
3. ``shopsense simulate --url``: ``--explore-sessions`` visits of exploration traffic are
   logged and posted to the server, which retrains on them (``POST /admin/train``, quality
   gate on); every in-process policy (popularity, ALS, item-KNN, Mult-DAE: each one
   retrieval model) learns from the very same log. Then ``--sessions`` visits per policy,
   the same arrivals and random streams for each, with ``--disagreement`` on (a third of
   the products click more and sell less than browsing shows, or the opposite) and
   searches simulated; the server answers both its recommendations and its searches.

Writes ``benchmarks/results/simulate_served.json`` and prints conversion lifts with 95%
Wilson intervals, and the served stack minus each policy on the very same visits (paired
per session: every policy plays the same arrivals and random streams) with its 95%
interval.
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
import urllib.request
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "simulate_served.json"
KEY = "bench-key"
CLI = [sys.executable, "-c", "from shopsense.cli import main; raise SystemExit(main())"]


def wait_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                health = json.loads(response.read())
            if health.get("bundle") and health.get("search") == "ready":
                return
        except OSError:
            pass
        time.sleep(1.0)
    raise SystemExit(f"the server at {url} did not get ready in {timeout_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=4000)
    parser.add_argument("--explore-sessions", type=int, default=4000)
    parser.add_argument("--disagreement", type=float, default=1.5)
    parser.add_argument("--policies", default="random,popularity,als,item_knn,mult_dae")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--sim-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    env = os.environ | {
        "SHOPSENSE_API_KEY": KEY,
        "OPENBLAS_NUM_THREADS": "1",
        # the served policy's exploration draws repeat from run to run
        "SHOPSENSE_EXPLORATION_SEED": str(args.sim_seed),
    }
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shopsense-served-") as tmp:
        data = Path(tmp) / "data"
        shop = ["--products", str(args.products), "--users", str(args.users), "--seed", "7"]
        print("building and training the sample shop", flush=True)
        subprocess.run([*CLI, "--data-dir", str(data), "demo", "--no-serve", *shop],
                       check=True, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        server = subprocess.Popen(
            [*CLI, "--data-dir", str(data), "serve", "--port", str(args.port)], env=env
        )
        url = f"http://127.0.0.1:{args.port}"
        try:
            wait_ready(url, 900)
            print("simulating", flush=True)
            simulate = subprocess.run(
                [*CLI, "simulate", "--url", url, "--api-key", KEY, *shop,
                 "--sessions", str(args.sessions), "--explore-sessions",
                 str(args.explore_sessions), "--disagreement", str(args.disagreement),
                 "--policies", args.policies, "--sim-seed", str(args.sim_seed), "--json"],
                check=True, env=env, capture_output=True, text=True,
            )  # fmt: skip
            with urllib.request.urlopen(
                urllib.request.Request(url + "/admin/models", headers={"X-API-Key": KEY})
            ) as response:
                models = json.loads(response.read())
        finally:
            server.terminate()
            server.wait(timeout=60)
    body: dict[str, Any] = json.loads(simulate.stdout)
    policies = body["policies"]
    served = policies["served"]
    singles = [n for n in policies if n not in ("served", "random", "stack")]
    best = max(singles, key=lambda n: policies[n]["conversion_rate"])
    paired = body.get("paired", {}).get("against", {})
    lifts = {}
    for name in [*singles, "random"]:
        if name in policies and policies[name]["conversion_rate"] > 0:
            other = policies[name]
            lifts[name] = {
                "lift": served["conversion_rate"] / other["conversion_rate"] - 1.0,
                "intervals_apart": served["conversion_ci95"][0] > other["conversion_ci95"][1],
                "paired_difference": paired.get(name, {}).get("conversion_difference"),
                "paired_ci95": paired.get(name, {}).get("conversion_difference_ci95"),
                "paired_apart": paired.get(name, {}).get("conversion_apart"),
            }
    body |= {
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count()},
        "settings": vars(args) | {"out": str(args.out)},
        "best_single": best,
        "served_lifts": lifts,
        "serving_bundle": models.get("serving"),
        "bundles": models.get("bundles", [])[:2],
        "wall_s": round(time.perf_counter() - began, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(body, indent=1))
    print(f"{'policy':<12} {'conv %':>7} {'95% CI':>16} {'CTR %':>7}")
    for name, r in policies.items():
        low, high = r["conversion_ci95"]
        print(f"{name:<12} {100 * r['conversion_rate']:7.2f} [{100 * low:5.2f}, {100 * high:5.2f}] "
              f"{100 * r['ctr']:7.2f}")  # fmt: skip
    for name, lift in lifts.items():
        apart = "intervals apart" if lift["intervals_apart"] else "intervals overlap"
        line = f"served over {name}: {lift['lift']:+.1%} ({apart})"
        if lift["paired_ci95"] is not None:
            low, high = lift["paired_ci95"]
            line += (
                f"; same visits: {100 * lift['paired_difference']:+.2f} pts "
                f"[{100 * low:+.2f}, {100 * high:+.2f}]"
            )
        print(line)


if __name__ == "__main__":
    main()
