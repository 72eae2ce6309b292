"""Every model on the public datasets: leave-one-out, full ranking, test stage.

    python benchmarks/models_offline.py --datasets beauty,sports,scientific,video \
        [--models popularity,transition,item_knn,ease,als,bpr,sasrec,hybrid] \
        [--device cuda] [--results DIR]

``--device cuda`` trains SASRec on a GPU (scoring stays on the CPU, as when serving); its
fit seconds then describe that machine, not the 2-core box. ``--results DIR`` writes the
JSON files there (existing ones in DIR are extended, model by model).

Hyper-parameters come from ``benchmarks/results/tuned_params.json`` (chosen on validation by
``benchmarks/tune_models.py``; defaults where a model was not tuned). Each model runs in its
own process, fitted on training + validation events (the validation step is refitted in, as
usual once hyper-parameters are chosen) and scored on each shopper's last item against the
whole catalog, the shopper's training items excluded. The process reports wall time of
``fit`` and its peak resident memory (``ru_maxrss``: data, split and model together).
Writes ``benchmarks/results/models_<dataset>.json`` and prints a markdown table beside the
published figures of PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from common import DATASETS, PUBLISHED, load

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = "popularity,transition,item_knn,ease,als,bpr,sasrec,hybrid"
COLUMNS = ("HR@10", "NDCG@10", "HR@20", "NDCG@20")
#: Settings for models not tuned by grid: SASRec keeps the paper's architecture (2 blocks,
#: 64-d, dropout 0.5) and early-stops on a held-out tenth of the training shoppers.
DEFAULTS: dict[str, dict[str, Any]] = {"sasrec": {"patience": 5, "epochs": 100}}


def worker(dataset: str, model_name: str, params: dict[str, Any]) -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format=f"{dataset} %(message)s", stream=sys.stderr)
    from shopsense.evaluation.offline import evaluate
    from shopsense.evaluation.split import leave_one_out
    from shopsense.models import MODELS as REGISTRY

    split = leave_one_out(load(dataset))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    metrics = evaluate(REGISTRY[model_name](**params), split, "test")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    metrics["peak_rss_mb"] = peak / 1024
    metrics["model_rss_mb"] = (peak - before) / 1024
    print(json.dumps({"model": model_name, "params": params, "metrics": metrics}))


def table(dataset: str, results: dict[str, Any]) -> str:
    head = "| model | " + " | ".join(COLUMNS) + " | fit s | peak MB |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for name, row in results.items():
        m = row["metrics"]
        cells = " | ".join(f"{m[c]:.4f}" for c in COLUMNS)
        lines.append(f"| {name} | {cells} | {m['train_seconds']:.1f} | {m['peak_rss_mb']:.0f} |")
    for name, figures in PUBLISHED.get(dataset, {}).items():
        cells = " | ".join(f"{figures[c]:.4f}" for c in COLUMNS)
        lines.append(f"| {name} (published) | {cells} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="beauty")
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--device", default="cpu", help="where SASRec trains: cpu, cuda, auto")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--worker", nargs=2, metavar=("DATASET", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], json.loads(args.params))
        return
    tuned_path = RESULTS / "tuned_params.json"
    tuned = json.loads(tuned_path.read_text()) if tuned_path.exists() else {}
    for dataset in args.datasets.split(","):
        if dataset not in DATASETS:
            raise SystemExit(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
        out = args.results / f"models_{dataset}.json"
        results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        for name in args.models.split(","):
            params = tuned.get(dataset, {}).get(name, DEFAULTS.get(name, {}))
            if name == "sasrec" and args.device != "cpu":
                params = {**params, "device": args.device}
            command = [sys.executable, __file__, "--worker", dataset, name]
            # The worker's log (SASRec's epochs) goes straight to stderr; stdout is its result.
            done = subprocess.run(
                [*command, "--params", json.dumps(params)],
                stdout=subprocess.PIPE,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"{dataset} {name} failed (exit {done.returncode})", file=sys.stderr)
                continue
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            m = results[name]["metrics"]
            print(
                f"{dataset} {name}: NDCG@10 {m['NDCG@10']:.4f} HR@10 {m['HR@10']:.4f} "
                f"fit {m['train_seconds']:.1f}s peak {m['peak_rss_mb']:.0f} MB",
                flush=True,
            )
            args.results.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=1))
        print(f"\n### {dataset}\n\n{table(dataset, results)}\n")


if __name__ == "__main__":
    main()
