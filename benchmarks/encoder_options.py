"""What bounds indexing: MiniLM throughput by product text and model precision.

    python benchmarks/encoder_options.py [--products 1000] [--threads 2]

Encodes ``--products`` sample-shop products three ways (the full ``product_text`` with 300
description characters; title, brand and category; the title alone) with the packaged
all-MiniLM-L6-v2 through onnxruntime, as exported by ShopSense (fp32), and with the same
model quantized to int8 (dynamic, per channel: the file ``minilm-int8`` serves). Prints texts/s
and the mean cosine between each variant's vectors and the fp32 ones of the same texts.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from shopsense.features.text import TextEncoder, product_text, quantized
from shopsense.synth.catalog import build_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import onnxruntime  # type: ignore[import-untyped]

    end = datetime(2026, 11, 1, tzinfo=UTC)
    rng = np.random.default_rng(0)
    products = build_catalog(args.products, start=end - timedelta(days=60), end=end, rng=rng)
    encoder = TextEncoder(num_threads=args.threads, backend="onnx")
    encoder.encode(["warm up"])
    model = encoder._loaded()
    texts = {
        "title, brand, category, description[:300]": [product_text(p) for p in products.products],
        "title, brand, category": [product_text(p, 0) for p in products.products],
        "title": [p.title for p in products.products],
    }
    fp32 = Path(model.session._model_path)
    int8 = quantized(fp32)  # the int8 file the minilm-int8 setting serves
    reference: dict[str, np.ndarray] = {}
    print(f"{args.products} products, {args.threads} threads")
    for precision, path in (("fp32", fp32), ("int8", int8)):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        model.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        for name, batch in texts.items():
            tokens = np.mean([len(model.tokenizer.encode(t).ids) for t in batch])
            model.encode(batch[:32], 32)
            began = time.perf_counter()
            vectors = model.encode(batch, encoder.batch_size)
            rate = len(batch) / (time.perf_counter() - began)
            reference.setdefault(name, vectors)
            cosine = float(np.mean(np.sum(vectors * reference[name], axis=1)))
            print(
                f"{precision} | {name} ({tokens:.0f} tokens) | {rate:6.0f} texts/s"
                f" | cosine to fp32 {cosine:.4f}"
            )


if __name__ == "__main__":
    main()
