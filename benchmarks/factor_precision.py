"""What storing a bundle's learned arrays in float16 costs (issue 14, item 4):
``SHOPSENSE_BUNDLE_PRECISION=float16``.

    python benchmarks/factor_precision.py [--datasets beauty,sports] [--models als,ease]

Each model (tuned parameters from ``results/tuned_params.json``) is fitted once on the
training + validation events of a dataset (leave-one-out, as ``models_offline.py``), scored
on the test step, saved at float32 and at float16 precision, loaded back, and scored again:
the same fit, so any difference is the stored precision. Reports NDCG@10 / HR@10 of each,
the size of the stored model state, and the largest change of a learned value. Writes
``results/factor_precision.json``.
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

from common import load

RESULTS = Path(__file__).resolve().parent / "results"


def measure(dataset: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    from shopsense.evaluation.offline import rank_targets
    from shopsense.evaluation.split import leave_one_out
    from shopsense.models import MODELS

    split = leave_one_out(load(dataset))
    model = MODELS[name](**params)
    started = time.perf_counter()
    model.fit(split.train_full)
    fit_s = time.perf_counter() - started
    out: dict[str, Any] = {"dataset": dataset, "model": name, "params": params, "fit_s": fit_s}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("float32", "float16"):
            path = Path(tmp) / precision
            model.save(path, training_log=True, precision=precision)
            loaded = type(model).load(path)
            metrics = rank_targets(loaded, split, "test").metrics
            out[precision] = {
                "NDCG@10": metrics["NDCG@10"],
                "HR@10": metrics["HR@10"],
                "state_mb": (path / "state.npz").stat().st_size / 2**20,
            }
            if precision == "float16":
                full = model._state()
                out["max_abs_change"] = max(
                    float(np.max(np.abs(full[k].astype(np.float64) - v.astype(np.float64))))
                    for k, v in loaded._state().items()
                    if isinstance(v, np.ndarray) and v.dtype == np.float32 and v.size
                )
    first, half = out["float32"], out["float16"]
    out["ndcg_change_pct"] = 100 * (half["NDCG@10"] / first["NDCG@10"] - 1)
    out["size_ratio"] = half["state_mb"] / first["state_mb"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="beauty,sports")
    parser.add_argument("--models", default="als,ease")
    parser.add_argument("--out", type=Path, default=RESULTS / "factor_precision.json")
    args = parser.parse_args()
    tuned = json.loads((RESULTS / "tuned_params.json").read_text())
    rows = []
    print("| dataset | model | NDCG@10 fp32 | NDCG@10 fp16 | change | state MB fp32 | fp16 |")
    print("|---|---|---|---|---|---|---|")
    for dataset in args.datasets.split(","):
        for name in args.models.split(","):
            row = measure(dataset, name, tuned.get(dataset, {}).get(name, {}))
            rows.append(row)
            first, half = row["float32"], row["float16"]
            print(
                f"| {dataset} | {name} | {first['NDCG@10']:.4f} | {half['NDCG@10']:.4f} "
                f"| {row['ndcg_change_pct']:+.2f}% | {first['state_mb']:.1f} "
                f"| {half['state_mb']:.1f} |",
                flush=True,
            )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    args.out.write_text(json.dumps({"machine": machine, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
