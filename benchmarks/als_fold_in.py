"""How close a served shopper's ALS scores come to the trained ones: the fold-in.

    python benchmarks/als_fold_in.py [--datasets beauty,sports] [--alpha A]

The server never has a shopper's trained ALS factors at hand for a live history: it folds
the history in (one ALS half-step against the item factors). Here ALS at its defaults
(``--alpha`` aside) is fitted once on the training + validation events of each dataset
(leave-one-out, as ``models_offline.py``) and the test step is ranked twice with the same
fit: from the trained user factors, and from the same histories folded in. Reports NDCG@10
and HR@10 of each and the median relative distance between trained and folded-in factors.
Writes ``results/als_fold_in.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import load, provenance

RESULTS = Path(__file__).resolve().parent / "results"


def measure(dataset: str, alpha: float | None) -> dict[str, Any]:
    from shopsense.evaluation.offline import rank_targets
    from shopsense.evaluation.split import leave_one_out
    from shopsense.models import ALS

    split = leave_one_out(load(dataset))
    model = ALS() if alpha is None else ALS(alpha=alpha)
    started = time.perf_counter()
    model.fit(split.train_full)
    out: dict[str, Any] = {"dataset": dataset, "alpha": model.alpha, "factors": model.factors}
    out["fit_s"] = round(time.perf_counter() - started, 1)
    trained = rank_targets(model, split, "test").metrics
    # The same histories in another object: rank_targets folds them in as fresh input.
    folded_split = dataclasses.replace(split, train_full=copy.copy(split.train_full))
    folded = rank_targets(model, folded_split, "test").metrics
    for name, metrics in (("trained", trained), ("folded_in", folded)):
        out[name] = {k: round(metrics[k], 5) for k in ("NDCG@10", "HR@10")}
    matrix = split.train_full.matrix
    sample = np.random.default_rng(0).choice(matrix.shape[0], 2000, replace=False)
    distances = []
    for u in sample:
        row = slice(matrix.indptr[u], matrix.indptr[u + 1])
        vector = model._fold_in(matrix.indices[row], matrix.data[row])
        own = model.user_factors_[u]
        distances.append(float(np.linalg.norm(vector - own) / (np.linalg.norm(own) + 1e-9)))
    out["median_relative_distance"] = round(float(np.median(distances)), 4)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="beauty,sports")
    parser.add_argument("--alpha", type=float, default=None, help="default: ALS's own")
    parser.add_argument("--out", type=Path, default=RESULTS / "als_fold_in.json")
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets.split(","):
        rows.append(measure(dataset, args.alpha))
        print(json.dumps(rows[-1]))
    alpha = "" if args.alpha is None else f" --alpha {args.alpha}"
    result = {
        "command": f"python benchmarks/als_fold_in.py --datasets {args.datasets}{alpha} "
        f"--out {args.out.name}",
        **provenance(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
