"""The int8 MiniLM setting against fp32: size, load time, speed and ESCI search quality.

    python benchmarks/encoder_precision.py [--products 1000] [--threads 2] [--repeats 3]
                                           [--seeds 1] [--path ../shared/datasets/esci-sample]
                                           [--out benchmarks/results/encoder_precision.json]

Runs :class:`~shopsense.features.text.TextEncoder` as a user gets it with
``SHOPSENSE_SEARCH_ENCODER=minilm`` (fp32) and ``minilm-int8`` (``precision="int8"``), from a
fresh model cache holding the exported fp32 file, so the one-off quantisation is timed too.
For each precision: size on disk, load time (session start and first text), encoder
throughput over ``--products`` sample-shop product texts (``--threads`` threads, best of
``--repeats``), one uncached query's latency on one thread (the serving default), mean cosine
to the fp32 vectors, and the ESCI sample's NDCG@10 (5-fold CV over queries as ``shopsense
evaluate-search``; the mean over ``--seeds`` splits, seed 0 alone by default) on re-ranking
and whole-catalog retrieval. Prints a table and
writes the figures as JSON. Timings need the machine to themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import SHARED
from shopsense.evaluation.search import esci_engine, evaluate
from shopsense.features.text import PRECISIONS, TextEncoder, product_text, quantized
from shopsense.search.judgments import read_judgments
from shopsense.synth.catalog import build_catalog

METHODS = ("semantic", "hybrid", "hybrid_ltr")
QUERIES = [
    "waterproof running shoes",
    "grey 3 seater sofa",
    "iphone 15 case",
    "stainless steel wok 32cm",
    "dinnerware set without mugs",
    "kids winter jacket size 8",
    "noise cancelling headphones under 100",
    "organic green tea bags",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=1, help="ESCI cross-validation splits")
    parser.add_argument("--path", type=Path, default=SHARED / "esci-sample")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/encoder_precision.json")
    )
    args = parser.parse_args()

    end = datetime(2026, 11, 1, tzinfo=UTC)
    catalog = build_catalog(
        args.products, start=end - timedelta(days=60), end=end, rng=np.random.default_rng(0)
    )
    texts = [product_text(p) for p in catalog.products]

    # A fresh cache with the exported fp32 model in it (exported once per machine).
    exported = TextEncoder(backend="onnx")
    exported.encode(["warm up"])
    fp32_file = Path(exported._loaded().session._model_path)
    cache = Path(tempfile.mkdtemp(prefix="shopsense-precision-"))
    (cache / fp32_file.name).symlink_to(fp32_file)
    began = time.perf_counter()
    int8_file = quantized(cache / fp32_file.name)
    quantise_s = time.perf_counter() - began
    files = {"fp32": fp32_file, "int8": int8_file}

    queries = read_judgments(args.path)
    results: dict[str, dict[str, float]] = {}
    reference: np.ndarray | None = None
    for precision in PRECISIONS:
        row: dict[str, float] = {"size_mb": files[precision].stat().st_size / 1e6}
        began = time.perf_counter()
        encoder = TextEncoder(
            num_threads=args.threads, backend="onnx", model_cache=cache, precision=precision
        )
        encoder.encode(["warm up"])
        row["load_s"] = time.perf_counter() - began
        encoder.encode(texts[:64])
        rates = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            vectors = encoder.encode(texts)
            rates.append(len(texts) / (time.perf_counter() - began))
        row["texts_per_s"] = max(rates)
        reference = vectors if reference is None else reference
        row["cosine_to_fp32"] = float(np.mean(np.sum(vectors * reference, axis=1)))

        one = TextEncoder(num_threads=1, backend="onnx", model_cache=cache, precision=precision)
        one.encode(["warm up"])
        latencies = []
        for _ in range(5):
            for query in QUERIES:
                began = time.perf_counter()
                one.encode([query])
                latencies.append((time.perf_counter() - began) * 1000)
        row["query_p50_ms"] = statistics.median(latencies)

        # The ESCI engine as evaluate-search builds it, on this precision's vectors (no
        # embedding cache; the thread count changes the speed, not the vectors).
        search_encoder = TextEncoder(
            num_threads=args.threads, backend="onnx", model_cache=cache, precision=precision
        )
        began = time.perf_counter()
        engine = esci_engine(args.path, search_encoder)
        row["esci_build_s"] = time.perf_counter() - began
        scores: dict[str, list[float]] = {}
        for seed in range(args.seeds):
            for protocol, methods in evaluate(engine, queries, seed=seed).items():
                for method in METHODS:
                    key = f"{protocol}_{method}_ndcg10"
                    scores.setdefault(key, []).append(methods[method]["NDCG@10"])
        for key, values in scores.items():
            row[key] = float(np.mean(values))
            if args.seeds > 1:
                row[f"{key}_sd"] = float(np.std(values))
        results[precision] = row
        print(precision, json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)

    fp32, int8 = results["fp32"], results["int8"]
    speedup = int8["texts_per_s"] / fp32["texts_per_s"]
    rerank_delta = int8["rerank_hybrid_ltr_ndcg10"] - fp32["rerank_hybrid_ltr_ndcg10"]
    print(f"\n{args.products} sample-shop product texts, {args.threads} threads; ESCI {args.path}")
    print(f"int8 quantisation (once): {quantise_s:.1f} s")
    print("what | fp32 | int8")
    for key in fp32:
        print(f"{key} | {fp32[key]:.4f} | {int8[key]:.4f}")
    print(f"throughput int8 / fp32: {speedup:.2f}x (target >= 1.3)")
    print(f"ESCI re-ranking hybrid + LTR, int8 - fp32: {rerank_delta:+.4f} (target within 0.005)")

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "run_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": commit + " (+ working tree)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "args": {k: str(v) for k, v in vars(args).items()},
        "quantise_s": quantise_s,
        "results": results,
        "int8_over_fp32_throughput": speedup,
        "rerank_hybrid_ltr_delta": rerank_delta,
    }
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    shutil.rmtree(cache)  # the int8 copy made for this run (the fp32 file is only linked)


if __name__ == "__main__":
    main()
