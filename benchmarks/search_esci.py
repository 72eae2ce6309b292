"""ESCI sample: search accuracy over several cross-validation seeds, and by query type.

    python benchmarks/search_esci.py [--seeds 5] [--encoder minilm|static]
                                     [--path ../shared/datasets/esci-sample]

``shopsense evaluate-search`` reports one 5-fold cross-validation (seed 0). With 75
queries, which queries land in which fold moves the learned ranker by about +-0.01 NDCG@10,
so this runs the same evaluation with ``--seeds`` different fold splits (and ranker seeds)
and prints each method's mean and standard deviation, then seed 0's NDCG@10 by the
query's ESCI source (negations such as "dinnerware sets without mugs", parse patterns,
behavioral, other). Not timing-sensitive.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import SHARED
from shopsense.evaluation.search import PROTOCOLS, esci_engine, evaluate
from shopsense.features.text import ENCODERS, default_encoder
from shopsense.search.judgments import read_judgments

SHOWN = ("bm25_plain", "bm25", "semantic", "hybrid", "hybrid_z", "hybrid_ltr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", type=Path, default=SHARED / "esci-sample")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("shopsense-data/cache"))
    parser.add_argument("--encoder", choices=ENCODERS, default="minilm")
    args = parser.parse_args()

    engine = esci_engine(args.path, default_encoder(args.encoder), cache=args.cache)
    queries = read_judgments(args.path)
    with (args.path / "queries.tsv").open(encoding="utf-8") as handle:
        source = {
            r["query"]: r.get("esci_source", "") for r in csv.DictReader(handle, delimiter="\t")
        }
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    details: list[dict[str, object]] = []
    for seed in range(args.seeds):
        report = evaluate(engine, queries, seed=seed, per_query=details if seed == 0 else None)
        for protocol, results in report.items():
            for method, values in results.items():
                scores[(protocol, method)].append(values["NDCG@10"])
    print(f"{len(queries)} queries, {args.encoder} encoder, NDCG@10 over {args.seeds} CV seeds")
    for protocol in PROTOCOLS:
        print(f"\n{protocol}: method | mean | sd | min | max")
        for method in SHOWN:
            v = np.asarray(scores[(protocol, method)])
            print(f"{method} | {v.mean():.4f} | {v.std():.4f} | {v.min():.4f} | {v.max():.4f}")
    by_source: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in details:
        kind = source.get(str(row["query"]), "") or "?"
        by_source[(str(row["protocol"]), str(row["method"]), kind)].append(float(row["NDCG@10"]))  # type: ignore[arg-type]
    kinds = sorted({k for _, _, k in by_source})
    for protocol in PROTOCOLS:
        counts = {k: len(by_source[(protocol, "bm25", k)]) for k in kinds}
        print(
            f"\n{protocol}, seed 0, by query source: method | "
            + " | ".join(f"{k} ({counts[k]})" for k in kinds)
        )
        for method in SHOWN:
            cells = " | ".join(f"{np.mean(by_source[(protocol, method, k)]):.3f}" for k in kinds)
            print(f"{method} | {cells}")


if __name__ == "__main__":
    main()
