"""Search indexing throughput and query latency on a sample-shop catalog.

    python benchmarks/search_latency.py [--products 50000] [--queries 2000] [--threads 2]
                                        [--encoder minilm|static]

Builds a catalog of ``--products`` sample-shop products, then measures:

- the encoder's own throughput over the product texts it embeds (``--encoder minilm``:
  MiniLM on ``--threads`` threads over title, brand, category and description start;
  ``static``: the Model2Vec encoder distilled from it, over title, brand and category);
- indexing throughput (``SearchEngine.build``: tantivy + embeddings + usearch), cold, then
  re-indexing with the embedding store as a restart does (unchanged; 1% of titles edited);
- latency of ``engine.search`` (hybrid: query embedding included, the LRU cache cleared
  before every query; and warm, repeated queries) and of lexical-only retrieval, over
  ``--queries`` shopper queries drawn like the sample shop's (typos included).

Targets (issue 4, 50k products, this 2-core machine): hybrid p50 <= 10 ms, p99 <= 50 ms;
lexical p50 <= 3 ms; indexing >= 500 products/s including embeddings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from shopsense.features.embedding_store import EmbeddingStore, embedding_store
from shopsense.features.static_text import StaticEncoder
from shopsense.features.text import TextEncoder
from shopsense.search import SearchEngine
from shopsense.synth.catalog import build_catalog
from shopsense.synth.queries import make_query
from shopsense.synth.vocabulary import DEPARTMENTS, LEAVES


def percentiles(samples: list[float]) -> str:
    ms = np.asarray(samples) * 1000.0
    return f"p50 {np.percentile(ms, 50):7.2f} ms   p99 {np.percentile(ms, 99):7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for indexing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", choices=("minilm", "minilm-int8", "static"), default="minilm")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    products = build_catalog(
        args.products, start=end - timedelta(days=60), end=end, rng=rng
    ).products
    encoder = (
        StaticEncoder()
        if args.encoder == "static"
        else TextEncoder(
            num_threads=args.threads, precision="int8" if args.encoder == "minilm-int8" else "fp32"
        )
    )
    encoder.encode(["warm up"])

    sample = [encoder.product_text(p) for p in products[: min(2000, len(products))]]
    began = time.perf_counter()
    encoder.encode(sample)
    encode_rate = len(sample) / (time.perf_counter() - began)

    store_dir = Path(tempfile.mkdtemp(prefix="shopsense-embeddings-"))

    def store() -> EmbeddingStore:
        return embedding_store(store_dir, encoder)

    began = time.perf_counter()
    engine = SearchEngine.build(products, encoder=encoder, embeddings=store())
    build_s = time.perf_counter() - began

    import torch

    torch.set_num_threads(1)  # serving: one query at a time, one thread
    brands = {d.name: d.brands for d in DEPARTMENTS}
    queries = [
        make_query(leaf, brands[leaf.department], rng)
        for leaf in rng.choice(np.array(LEAVES, dtype=object), args.queries)
    ]
    for q in queries[:20]:
        engine.search(q)

    lexical, hybrid_cold, hybrid_warm = [], [], []
    for q in queries:
        began = time.perf_counter()
        engine.lexical.search(q, 20)
        lexical.append(time.perf_counter() - began)
        encoder._cache.clear()
        began = time.perf_counter()
        engine.search(q, page_size=20)
        hybrid_cold.append(time.perf_counter() - began)
        began = time.perf_counter()
        engine.search(q, page_size=20)
        hybrid_warm.append(time.perf_counter() - began)

    # After the latency runs (tantivy merges in the background after a build): a restart /
    # rebuild with the embedding store, unchanged, then with 1% of products edited.
    began = time.perf_counter()
    SearchEngine.build(products, encoder=encoder, embeddings=store())
    rebuild_s = time.perf_counter() - began
    edited = list(products)
    for i in range(0, len(edited), 100):
        edited[i] = edited[i].model_copy(update={"title": edited[i].title + " (new model)"})
    began = time.perf_counter()
    SearchEngine.build(edited, encoder=encoder, embeddings=store())
    rebuild_edited_s = time.perf_counter() - began
    shutil.rmtree(store_dir, ignore_errors=True)

    print(
        f"catalog: {len(products):,} products, {len(queries):,} queries"
        f" ({len(set(queries))} distinct)"
    )
    print(f"encoder {args.encoder} alone ({args.threads} threads): {encode_rate:8.0f} products/s")
    print(
        f"indexing (tantivy + embeddings + usearch): {len(products) / build_s:8.0f} products/s"
        f" ({build_s:.1f} s)"
    )
    print(
        f"re-indexing, embedding store, unchanged:  {len(products) / rebuild_s:8.0f} products/s"
        f" ({rebuild_s:.1f} s)"
    )
    print(
        f"re-indexing, embedding store, 1% edited:  {len(products) / rebuild_edited_s:8.0f} "
        f"products/s ({rebuild_edited_s:.1f} s)"
    )
    print(f"lexical only (tantivy BM25, top 20):   {percentiles(lexical)}")
    print(f"hybrid, query embedding computed:      {percentiles(hybrid_cold)}")
    print(f"hybrid, query embedding cached:        {percentiles(hybrid_warm)}")


if __name__ == "__main__":
    main()
