"""How the feedback ranker's training time and held-out quality move with the impressions it
learns from (``MultiTaskRanker.max_rows``: negative down-sampling beyond it).

    python benchmarks/ranker_rows.py --users 3000 --products 6000 --max-rows all,100000

Generates the sample shop (about 100 events a shopper, most of them impressions) and trains
the default stack on it, as ``shopsense train --models popularity,als`` does, once per
``--max-rows`` value (``all``: every impression). Records for each: the wall time of the
whole training, the rows the ranker learned from in its final fit, and the held-out report
(20% of the shoppers, every one of their impressions, cross-fitted: the ranker against a
logistic regression on the same features and a smoothed per-item rate; AUC, log-loss, ECE
per task). Run alone on the machine: the times are the point. Writes
``benchmarks/results/ranker_rows.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import provenance
from shopsense.dataset import Dataset
from shopsense.ranking.stack import StackConfig
from shopsense.synth import ShopConfig, generate_shop
from shopsense.training import train_stack

RESULTS = Path(__file__).parent / "results" / "ranker_rows.json"


def held_out(report: dict[str, Any]) -> dict[str, Any]:
    """AUC / log-loss / ECE of each model per task, from a stack's ranker report."""
    tasks = report.get("ranker", {}).get("tasks", {})
    return {
        task: {
            name: {k: row[k] for k in ("auc", "log_loss", "ece") if k in row}
            for name, row in models.items()
            if isinstance(row, dict)
        }
        for task, models in tasks.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--products", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", default="popularity,als")
    parser.add_argument("--max-rows", default="all,100000", help="comma-separated; all: none")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    caps = [None if v == "all" else int(v) for v in args.max_rows.split(",")]
    shop = generate_shop(ShopConfig(n_users=args.users, n_products=args.products, seed=args.seed))
    dataset = Dataset.from_events(shop.events, shop.products)
    runs = []
    for cap in caps:
        config = StackConfig(candidates=tuple(args.models.split(",")), ranker={"max_rows": cap})
        began = time.perf_counter()
        stack = train_stack(dataset, config)
        wall = time.perf_counter() - began
        rows = stack.ranker.selection_.get("rows", {}) if stack.ranker is not None else {}
        run = {
            "max_rows": cap,
            "train_wall_s": round(wall, 1),
            "final_fit_rows": rows,
            "held_out_rows": stack.report.get("ranker", {}).get("rows", {}),
            "held_out": held_out(stack.report),
        }
        print(json.dumps(run), flush=True)
        runs.append(run)
    body = {
        "command": "python benchmarks/ranker_rows.py "
        f"--users {args.users} --products {args.products} --seed {args.seed} "
        f"--models {args.models} --max-rows {args.max_rows}",
        **provenance(),
        "events": len(dataset.events),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(body, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
