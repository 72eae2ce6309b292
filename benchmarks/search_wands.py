"""Replay the 480 real WANDS queries: zero-result rate and latency.

    python benchmarks/search_wands.py [--catalog sample|esci] [--products 5000]

WANDS ships queries only (no products), so they run against a catalog we have: the sample
shop (``--products`` products; home goods are one department of several) or the ESCI
sample's 6,764 Amazon products. Reports, for hybrid search and for lexical-only BM25 with
and without typo tolerance, the share of queries with no result and with no lexical match,
plus hybrid latency (query embedding included).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from common import SHARED
from shopsense.evaluation.search import esci_engine
from shopsense.search import SearchEngine
from shopsense.search.sampleshop import add_typo
from shopsense.synth import ShopConfig, generate_shop


def read_queries(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row["query"] for row in csv.DictReader(handle, delimiter="\t")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", choices=("sample", "esci"), default="sample")
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--cache", type=Path, default=Path("shopsense-data/cache"))
    args = parser.parse_args()
    queries = read_queries(SHARED / "wands-queries" / "query.csv")
    if args.catalog == "esci":
        engine = esci_engine(SHARED / "esci-sample", cache=args.cache)
    else:
        shop = generate_shop(ShopConfig(n_products=args.products, n_users=50))
        engine = SearchEngine.build(shop.products)
    import torch

    torch.set_num_threads(1)
    zero_hybrid = zero_lexical = zero_exact = 0
    latency = []
    for q in queries:
        engine.encoder._cache.clear()
        began = time.perf_counter()
        result = engine.search(q, page_size=20, facets=True)
        latency.append(time.perf_counter() - began)
        zero_hybrid += result.total == 0
        zero_lexical += len(engine.lexical.search(q, 1)[0]) == 0
        zero_exact += len(engine.lexical.search(q, 1, typo_tolerance=False)[0]) == 0
    # The same queries with one typo each (two letters of the longest word swapped): how
    # many still match lexically, with and without fuzzy terms, and overall.
    rng = np.random.default_rng(0)
    typo_queries = [add_typo(q, rng) for q in queries]
    changed = [t for t, q in zip(typo_queries, queries, strict=True) if t != q]
    typo_exact = sum(
        len(engine.lexical.search(t, 1, typo_tolerance=False)[0]) == 0 for t in changed
    )
    typo_fuzzy = sum(len(engine.lexical.search(t, 1)[0]) == 0 for t in changed)
    typo_hybrid = sum(engine.search(t, page_size=10, facets=False).total == 0 for t in changed)
    n = len(queries)
    ms = np.asarray(latency) * 1000
    print(f"{n} WANDS queries on the {args.catalog} catalog ({len(engine):,} products)")
    print(f"zero-result rate, hybrid search:                 {zero_hybrid / n:6.1%}")
    print(f"no lexical match, BM25 with typo tolerance:      {zero_lexical / n:6.1%}")
    print(f"no lexical match, BM25 exact terms only:         {zero_exact / n:6.1%}")
    m = max(len(changed), 1)
    print(f"with one typo each ({len(changed)} queries with a word of 5+ letters):")
    print(f"  no lexical match, exact terms only:            {typo_exact / m:6.1%}")
    print(f"  no lexical match, with typo tolerance:         {typo_fuzzy / m:6.1%}")
    print(f"  zero-result rate, hybrid search:               {typo_hybrid / m:6.1%}")
    print(f"hybrid latency: p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms")


if __name__ == "__main__":
    main()
