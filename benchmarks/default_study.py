"""The study behind the package's defaults: one setting per model that tunes well on every
dataset we ship, chosen on validation data only.

    python benchmarks/default_study.py --models als --datasets beauty,sports,scientific,video
    python benchmarks/default_study.py --models ease --datasets beauty,sports,scientific

Per model, one Optuna study (TPE, seeded, :func:`shopsense.evaluation.tuning.tune_model`;
its first trial is the package's current default) over the model's search space. A trial
fits the setting on each dataset's training events (leave-one-out) and scores NDCG@10 on
that dataset's validation step; its value is the **mean over the datasets of log NDCG@10**,
so a setting has to do well on each dataset, not on the one with the highest figures (a 10%
gain counts the same everywhere). The test step is never read.

The chosen setting, rounded to 3 significant figures, is what the package then uses as the
model's defaults (``tests/benchmarks/test_default_study.py`` checks that they match).
Results, every trial with its per-dataset scores included, are merged into
``benchmarks/results/default_study.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from common import DATASETS, load, provenance
from shopsense.evaluation.split import Split, leave_one_out
from shopsense.evaluation.tuning import Budget, tune_model, validation_score
from shopsense.models import MODELS, Recommender

RESULTS = Path(__file__).resolve().parent / "results" / "default_study.json"


def rounded(value: Any) -> Any:
    """Floats to 3 significant figures (a default is a round number); others unchanged."""
    if isinstance(value, float) and value != 0.0 and math.isfinite(value):
        return float(f"{value:.3g}")
    return value


def study(name: str, splits: dict[str, Split], trials: int, seed: int) -> dict[str, Any]:
    """One model's cross-dataset study (module doc)."""
    scorers = {dataset: validation_score(split, seed) for dataset, split in splits.items()}
    per_trial: list[dict[str, float]] = []

    def score(model: Recommender) -> float:
        scores = {}
        for dataset, scorer in scorers.items():
            began = time.perf_counter()
            scores[dataset] = scorer(dataclasses.replace(model))
            seconds = time.perf_counter() - began
            print(f"  {name} {dataset}: {scores[dataset]:.4f} ({seconds:.0f} s)", flush=True)
        per_trial.append(scores)
        if min(scores.values()) <= 0.0:
            return -math.inf
        return sum(math.log(s) for s in scores.values()) / len(scores)

    tuned = tune_model(name, Budget(trials=trials), MODELS[name], score, seed=seed)
    rows = [
        {**t, "valid_ndcg@10_by_dataset": per_trial[k]}
        for k, t in enumerate(tuned.trials)
        if k < len(per_trial)
    ]
    best = max(rows, key=lambda r: r["valid_ndcg@10"])
    chosen = {k: rounded(v) for k, v in best["params"].items()}
    confirmed = {dataset: scorer(MODELS[name](**chosen)) for dataset, scorer in scorers.items()}
    return {
        "datasets": list(splits),
        "trials_budget": trials,
        "seed": seed,
        "objective": "mean over datasets of log validation NDCG@10",
        "previous_default": rows[0]["params"],
        "previous_default_valid_ndcg@10": rows[0]["valid_ndcg@10_by_dataset"],
        "chosen": chosen,
        "chosen_valid_ndcg@10": confirmed,
        "seconds": round(tuned.seconds, 1),
        "trials": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="als")
    parser.add_argument("--datasets", default="beauty,sports,scientific")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    names = [d for d in args.datasets.split(",") if d]
    unknown = [d for d in names if d not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown datasets {unknown}; known: {', '.join(DATASETS)}")
    splits = {d: leave_one_out(load(d)) for d in names}
    out = json.loads(args.out.read_text()) if args.out.exists() else {}
    for model in [m for m in args.models.split(",") if m]:
        began = time.perf_counter()
        result = study(model, splits, args.trials, args.seed)
        result |= {
            "command": f"python benchmarks/default_study.py --models {model} "
            f"--datasets {args.datasets} --trials {args.trials} --seed {args.seed}",
            **provenance(),
            "wall_s": round(time.perf_counter() - began, 1),
        }
        out[model] = result
        print(json.dumps({model: {k: result[k] for k in ("chosen", "chosen_valid_ndcg@10")}}))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
