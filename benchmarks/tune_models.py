"""Choose each model's hyper-parameters on the validation stage (never on test).

    python benchmarks/tune_models.py --datasets beauty,sports,scientific,video \
        [--models transition,item_knn,ease,als,bpr,sasrec,hybrid]

Leave-one-out split; every grid point is fitted on ``split.train`` and scored by full-ranking
NDCG@10 on the second-to-last item. The hybrid's blend weights are tuned last, by coordinate
ascent over its components' validation scores (:func:`shopsense.evaluation.tuning.tune_weights`).
Writes ``benchmarks/results/tuned_params.json`` (best per dataset and model, merged into what
is there) and ``benchmarks/results/tuning_<dataset>.json`` (every trial), which
``benchmarks/models_offline.py`` then uses for the test-stage table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from common import DATASETS, load
from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import Split, leave_one_out
from shopsense.evaluation.tuning import tune_weights
from shopsense.models import MODELS, Recommender

RESULTS = Path(__file__).resolve().parent / "results"

#: Grids on validation. Small on purpose: each point is a full fit on a 2-core machine.
GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {},
    "transition": {"order": [1, 2, 3], "decay": [0.25, 0.5], "smoothing": [1.0, 10.0]},
    "item_knn": {
        "neighbors": [50, 200],
        "similarity": ["cosine", "asymmetric_cosine"],
        "alpha": [0.8],
        "weighting": ["none", "bm25"],
        "shrink": [0.0, 10.0],
    },
    "ease": {"l2": [50.0, 500.0]},
    "als": {
        "factors": [128],
        "regularization": [1.0, 10.0],
        "alpha": [10.0],
        "iterations": [15],
    },
    "bpr": {"factors": [128], "learning_rate": [0.01, 0.05], "iterations": [100]},
    "sasrec": {"dropout": [0.5], "hidden": [64], "layers": [2]},
}

#: Components blended by the hybrid, each with its own tuned parameters.
HYBRID_COMPONENTS = ("transition", "item_knn", "als")


def grid(name: str) -> list[dict[str, Any]]:
    spec = GRIDS[name]
    if name == "item_knn":
        points = []
        for values in itertools.product(*spec.values()):
            point = dict(zip(spec, values, strict=True))
            if point["similarity"] == "cosine":
                point.pop("alpha")
            if point not in points:
                points.append(point)
        return points
    return [dict(zip(spec, values, strict=True)) for values in itertools.product(*spec.values())]


def tune_model(
    name: str, split: Split, done: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best grid point by validation NDCG@10; points already in ``done`` are not refitted."""
    trials = []
    for params in grid(name):
        previous = [t for t in done if t.get("params") == params]
        if previous:
            trials.append(previous[0])
            continue
        started = time.perf_counter()
        result = evaluate(MODELS[name](**params), split, "valid", ks=(10,))
        ndcg = result["NDCG@10"]
        trials.append({"params": params, "NDCG@10": ndcg, "seconds": time.perf_counter() - started})
        print(f"  {name} {params}: NDCG@10 {ndcg:.4f}", flush=True)
    best = max(trials, key=lambda t: t["NDCG@10"])
    return best["params"], trials


def tune_hybrid(
    split: Split, tuned: dict[str, dict[str, Any]], components: tuple[str, ...]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fitted: dict[str, Recommender] = {}
    for name in components:
        fitted[name] = MODELS[name](**tuned.get(name, {})).fit(split.train)
    weights, trace = tune_weights(fitted, split)
    params = {
        "components": {name: tuned.get(name, {}) for name in components},
        "weights": weights,
    }
    trials = [{"params": {"weights": w}, "NDCG@10 (sample)": s} for w, s in trace]
    print(f"  hybrid weights {weights}", flush=True)
    return params, trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="beauty")
    parser.add_argument("--models", default="transition,item_knn,ease,als,bpr,sasrec,hybrid")
    parser.add_argument("--hybrid-components", default=",".join(HYBRID_COMPONENTS))
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    tuned_path = RESULTS / "tuned_params.json"
    all_tuned: dict[str, dict[str, Any]] = (
        json.loads(tuned_path.read_text()) if tuned_path.exists() else {}
    )
    for dataset in args.datasets.split(","):
        if dataset not in DATASETS:
            raise SystemExit(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
        split = leave_one_out(load(dataset))
        tuned = all_tuned.setdefault(dataset, {})
        log_path = RESULTS / f"tuning_{dataset}.json"
        log: dict[str, Any] = json.loads(log_path.read_text()) if log_path.exists() else {}
        print(f"{dataset}: tuning on validation", flush=True)
        for name in args.models.split(","):
            if name == "hybrid":
                components = tuple(args.hybrid_components.split(","))
                best, trials = tune_hybrid(split, tuned, components)
            else:
                best, trials = tune_model(name, split, log.get(name, []))
            tuned[name] = best
            log[name] = trials
            tuned_path.write_text(json.dumps(all_tuned, indent=1, sort_keys=True))
            log_path.write_text(json.dumps(log, indent=1))
    print(f"wrote {tuned_path}")


if __name__ == "__main__":
    main()
