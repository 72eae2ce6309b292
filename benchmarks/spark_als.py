"""Spark's ALS against the local ALS at the same settings (issue 13, item 4: "same answers").

    python benchmarks/spark_als.py [--datasets beauty,sports] [--master local[2]]

Each dataset is split leave-one-out (as ``models_offline.py``). The default stack's ALS
settings (``ranking.fitting.model_params("als", {})``: 64 factors, the rest ALS's defaults;
log-scaled weights) are fitted on the training + validation events twice:

- **local**: ``shopsense.models.ALS`` (the ``implicit`` library), as ``shopsense train``;
- **spark**: :func:`shopsense.distributed.jobs.als_item_factors` (MLlib) in a Spark session
  on ``--master``, from the same interactions written as Parquet, as
  ``shopsense train --engine spark``.

Both are scored on the test step the way the server scores a shopper: the item factors
only, each shopper's factors folded in from their history (one ALS half-step), items in
the history excluded, ties broken at random. The local model's usual figure (its trained
shopper factors) is reported beside. Target: Spark's test NDCG@10 within 10% of the local
model's. Writes ``results/spark_als.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import load

RESULTS = Path(__file__).resolve().parent / "results"


def measure(dataset: str, master: str) -> dict[str, Any]:
    from shopsense.distributed import jobs
    from shopsense.distributed.session import spark_session
    from shopsense.evaluation.offline import rank_targets
    from shopsense.evaluation.split import leave_one_out
    from shopsense.models import ALS
    from shopsense.ranking.fitting import model_params

    stack = ALS(**model_params("als", {}))
    params: dict[str, Any] = {
        "factors": stack.factors,
        "iterations": stack.iterations,
        "regularization": stack.regularization,
        "alpha": stack.alpha,
    }
    split = leave_one_out(load(dataset))
    data = split.train_full
    out: dict[str, Any] = {"dataset": dataset, "params": params, "master": master}

    def served(item_factors: np.ndarray[Any, Any], popularity: np.ndarray[Any, Any]) -> float:
        state = {
            "user_factors_": np.zeros((0, item_factors.shape[1]), np.float32),
            "item_factors_": item_factors,
        }
        model = ALS.from_state(params, data.items, popularity, state)
        return float(rank_targets(model, split, "test").metrics["NDCG@10"])

    local = ALS(**params)
    started = time.perf_counter()
    local.fit(data)
    out["local_fit_s"] = time.perf_counter() - started
    out["local_ndcg@10_trained_users"] = float(
        rank_targets(local, split, "test").metrics["NDCG@10"]
    )
    out["local_ndcg@10"] = served(local.item_factors_, local.item_popularity_)

    matrix = data.matrix.tocoo()
    spark = spark_session(master, "shopsense-bench-als")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.parquet"
        table = pa.table(
            {
                "user": matrix.row.astype(np.int32),
                "item": matrix.col.astype(np.int32),
                "weight": matrix.data.astype(np.float64),
            }
        )
        pq.write_table(table, path)
        pairs = spark.read.parquet(str(path))
        started = time.perf_counter()
        model = ALS(**params)
        factors = jobs.als_item_factors(
            pairs,
            data.n_items,
            model.factors,
            model.iterations,
            model.regularization,
            model.alpha,
            model.random_state,
        )
        out["spark_fit_s"] = time.perf_counter() - started
    out["spark_ndcg@10"] = served(factors, local.item_popularity_)
    out["spark_vs_local_pct"] = 100 * (out["spark_ndcg@10"] / out["local_ndcg@10"] - 1)
    out["within_10pct"] = abs(out["spark_vs_local_pct"]) <= 10.0
    out["interactions"] = int(matrix.nnz)
    out["users"], out["items"] = int(data.n_users), int(data.n_items)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="beauty,sports")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--out", type=Path, default=RESULTS / "spark_als.json")
    args = parser.parse_args()
    rows = []
    print("| dataset | local NDCG@10 | Spark NDCG@10 | Spark vs local | local fit | Spark fit |")
    print("|---|---|---|---|---|---|")
    for dataset in args.datasets.split(","):
        row = measure(dataset, args.master)
        rows.append(row)
        print(
            f"| {dataset} | {row['local_ndcg@10']:.4f} | {row['spark_ndcg@10']:.4f} "
            f"| {row['spark_vs_local_pct']:+.1f}% | {row['local_fit_s']:.1f} s "
            f"| {row['spark_fit_s']:.1f} s |",
            flush=True,
        )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    args.out.write_text(json.dumps({"machine": machine, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
