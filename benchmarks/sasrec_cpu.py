"""SASRec on the CPU a shop has: fit time, test quality and one call's latency.

    python benchmarks/sasrec_cpu.py [--datasets beauty] [--params '{"negatives": 0}']
                                    [--calls 1000] [--out results/sasrec_cpu.json]

Issue 14 item 3's targets on this 2-core box: Beauty fitted alone in <= 4 minutes with
test NDCG@10 >= 0.058, and one call's full scores over its 12k items in <= 2 ms (p50).

Per dataset: SASRec at its defaults (``--params`` overrides them) is fitted on the training
+ validation events and ranks each shopper's test step, as ``models_offline.py`` does
(leave-one-out, full ranking, history excluded, ties at random); early stopping reads the
model's own held-out shoppers, never the test step. Then ``--calls`` random shoppers ask one
at a time for full scores (:meth:`score` on their fresh sequence) and for a top-10 list.
Writes the wall times, the training curve and the latencies to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import load, provenance

RESULTS = Path(__file__).resolve().parent / "results" / "sasrec_cpu.json"


def measure(dataset: str, params: dict[str, Any], calls: int) -> dict[str, Any]:
    from shopsense.evaluation.offline import evaluate
    from shopsense.evaluation.split import leave_one_out
    from shopsense.models import SASRec

    data = load(dataset)
    split = leave_one_out(data)
    model = SASRec(**params)
    metrics = evaluate(model, split, "test", (10, 20))
    curve = model.training_curve_
    best = int(np.nanargmax(curve[:, 2])) if np.isfinite(curve[:, 2]).any() else len(curve) - 1
    rng = np.random.default_rng(0)
    users = rng.choice(split.train_full.n_users, size=min(calls, split.train_full.n_users))
    histories = [model.items_.ids(split.train_full.sequence(int(u))).tolist() for u in users]
    score_ms, list_ms = [], []
    for history in histories:
        started = time.perf_counter()
        model.scores("", history=history)
        score_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        model.recommend("", n=10, history=history)
        list_ms.append(1000 * (time.perf_counter() - started))
    return {
        "dataset": dataset,
        "users": split.train_full.n_users,
        "items": split.train_full.n_items,
        "params": model.get_params(),
        "train_seconds": round(metrics["train_seconds"], 1),
        "epochs": len(curve),
        "best_epoch": best + 1,
        "seconds_per_epoch": round(float(curve[:, 3].mean()), 2),
        "best_held_out_ndcg10": round(float(curve[best, 2]), 5),
        "test": {k: round(v, 5) for k, v in metrics.items() if "@" in k},
        "full_scores_ms": _percentiles(score_ms),
        "top10_ms": _percentiles(list_ms),
        "curve": [[round(float(x), 5) for x in row] for row in curve],
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in (50, 90, 99)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="beauty")
    parser.add_argument("--params", default="{}", help="JSON: SASRec settings to override")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    runs = []
    for dataset in args.datasets.split(","):
        run = measure(dataset, params, args.calls)
        runs.append(run)
        test = run["test"]
        print(
            f"{dataset}: fit {run['train_seconds']:.0f} s ({run['epochs']} epochs, "
            f"{run['seconds_per_epoch']:.1f} s each, best {run['best_epoch']}), test NDCG@10 "
            f"{test['NDCG@10']:.4f} HR@10 {test['HR@10']:.4f}; full scores p50 "
            f"{run['full_scores_ms']['p50']:.2f} ms, top 10 p50 {run['top10_ms']['p50']:.2f} ms"
        )
    result = {
        "command": f"python benchmarks/sasrec_cpu.py --datasets {args.datasets} "
        f"--params '{args.params}' --calls {args.calls}",
        **provenance(),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
