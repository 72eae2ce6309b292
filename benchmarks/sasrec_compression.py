"""SASRec made smaller and faster, side by side: float32, int8, and a distilled student.

    python benchmarks/sasrec_compression.py [--datasets beauty,sports] [--calls 500]

Issue 14 item 4. Per dataset (leave-one-out, test step, full ranking, history excluded,
ties at random, as ``models_offline.py``):

- **fp32**: the teacher, SASRec with the settings ``sasrec_cpu.py`` measured fitting Beauty
  in under 3 minutes (learning rate 1.5e-3, a sampled softmax of 2,000 items, patience 6);
- **int8**: the same network through onnxruntime with int8 weights (``SASRec.quantized()``:
  exported to ONNX, dynamically quantised);
- **student**: one block of 32 dimensions (the teacher: two of 64) trained on the teacher's
  next-item distribution and the true next item (``distilled_from``, its default weight and
  temperature), same settings;
- **small, alone**: the student's architecture trained on the true next item only, to show
  what the teacher adds.

For each: test NDCG@10 / HR@10, size (the saved model; the int8 ONNX file), the time to
make it ready (load, or export and quantise), one call's full scores (p50, one shopper at a
time) and throughput (shoppers scored per second in batches of 256). Writes
``results/sasrec_compression.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import load, provenance

RESULTS = Path(__file__).resolve().parent / "results" / "sasrec_compression.json"
FAST = {"learning_rate": 0.0015, "negatives": 2000, "epochs": 34, "patience": 6}
SMALL = {"hidden": 32, "layers": 1}


def measure(dataset: str, calls: int) -> dict[str, Any]:
    from shopsense.evaluation.offline import rank_targets
    from shopsense.evaluation.split import leave_one_out
    from shopsense.models import SASRec, load_model
    from shopsense.models.base import Histories

    split = leave_one_out(load(dataset))
    data = split.train_full
    rng = np.random.default_rng(0)
    users = rng.choice(data.n_users, size=min(calls, data.n_users), replace=False)
    histories = [data.sequence(int(u)) for u in users]
    batches = [Histories.from_data(data, users[i : i + 256]) for i in range(0, users.size, 256)]
    rows: dict[str, Any] = {}

    def record(name: str, model: Any, fit_s: float, size: int, ready_s: float) -> None:
        quality = rank_targets(model, split, "test", (10,)).metrics
        ids = [model.items_.ids(h).tolist() for h in histories]
        single = []
        for history in ids:
            started = time.perf_counter()
            model.scores("", history=history)
            single.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        for batch in batches:
            model.score(batch)
        per_second = len(histories) / (time.perf_counter() - started)
        rows[name] = {
            "NDCG@10": round(quality["NDCG@10"], 5),
            "HR@10": round(quality["HR@10"], 5),
            "fit_seconds": round(fit_s, 1),
            "size_mb": round(size / 1e6, 2),
            "ready_seconds": round(ready_s, 2),
            "full_scores_p50_ms": round(float(np.percentile(single, 50)), 3),
            "full_scores_p99_ms": round(float(np.percentile(single, 99)), 3),
            "shoppers_per_second_batched": round(per_second, 1),
        }
        print(f"{dataset} {name}: {rows[name]}", flush=True)

    def saved(model: Any) -> tuple[int, float, Any]:
        with tempfile.TemporaryDirectory() as folder:
            model.save(Path(folder) / "m", training_log=False)
            size = sum(f.stat().st_size for f in (Path(folder) / "m").rglob("*") if f.is_file())
            started = time.perf_counter()
            loaded = load_model(Path(folder) / "m")
            return size, time.perf_counter() - started, loaded

    started = time.perf_counter()
    teacher = SASRec(**FAST).fit(data)
    teacher_fit = time.perf_counter() - started
    size, ready, loaded = saved(teacher)
    record("fp32", loaded, teacher_fit, size, ready)
    started = time.perf_counter()
    int8 = loaded.quantized()
    record("int8", int8, teacher_fit, int8.__dict__["_int8"].size_bytes,
           time.perf_counter() - started)  # fmt: skip
    for name, teacher_or_none in (("student", teacher), ("small, alone", None)):
        started = time.perf_counter()
        small = SASRec(**FAST, **SMALL).distilled_from(teacher_or_none).fit(data)
        fit = time.perf_counter() - started
        size, ready, loaded = saved(small)
        record(name, loaded, fit, size, ready)
    return {"dataset": dataset, "users": data.n_users, "items": data.n_items, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="beauty,sports")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    runs = [measure(d, args.calls) for d in args.datasets.split(",")]
    result = {
        "command": f"python benchmarks/sasrec_compression.py --datasets {args.datasets} "
        f"--calls {args.calls}",
        **provenance(),
        "teacher": FAST,
        "student": SMALL,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
