"""Embedding the catalog for search: in this process against Spark partitions (issue 13,
item 3).

    python benchmarks/spark_embed.py [--products 2000] [--master local[2]] [--encoder minilm]

The sample shop's catalog (``--products``) is embedded twice into fresh embedding stores:
by the search encoder in this process (what a server does at its first start), and by
:func:`shopsense.distributed.embed.embed_catalog` on Spark (what ``train --engine spark``
does). Reports the wall time of each (Spark's session start included), products per second
and the largest difference between the two sets of vectors. Writes
``results/spark_embed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    from shopsense.distributed.embed import embed_catalog
    from shopsense.distributed.session import spark_session
    from shopsense.features.embedding_store import embedding_store
    from shopsense.features.text import default_encoder
    from shopsense.synth import ShopConfig, generate_shop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--out", type=Path, default=RESULTS / "spark_embed.json")
    args = parser.parse_args()
    products = generate_shop(ShopConfig(n_products=args.products, n_users=50, days=3)).products
    encoder = default_encoder(args.encoder)
    texts = [encoder.product_text(p) for p in products]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        local = embedding_store(Path(tmp) / "local", encoder).encode(texts, encoder.encode)
        local_s = time.perf_counter() - started
        started = time.perf_counter()
        spark = spark_session(args.master, "shopsense-bench-embed")
        total, encoded = embed_catalog(spark, products, Path(tmp) / "spark", args.encoder)
        spark_s = time.perf_counter() - started

        def not_stored(missing: list[str]) -> np.ndarray:
            raise SystemExit(f"{len(missing)} texts missing from the store Spark filled")

        stored = embedding_store(Path(tmp) / "spark", encoder).encode(texts, not_stored)
    row = {
        "products": total,
        "encoded_on_spark": encoded,
        "encoder": args.encoder,
        "master": args.master,
        "local_s": local_s,
        "spark_s": spark_s,
        "local_products_per_s": total / local_s,
        "spark_products_per_s": total / spark_s,
        "max_abs_difference": float(np.max(np.abs(local - stored))),
    }
    print(
        f"{total} products, {args.encoder}: this process {local_s:.1f} s "
        f"({row['local_products_per_s']:.0f}/s), Spark {args.master} {spark_s:.1f} s "
        f"({row['spark_products_per_s']:.0f}/s); largest difference {row['max_abs_difference']:.2g}"
    )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    args.out.write_text(json.dumps({"machine": machine, "results": [row]}, indent=1))


if __name__ == "__main__":
    main()
