"""A served list's sparse reads: ``sparse_product`` / ``sparse_block`` against scipy's.

    python benchmarks/sparse_rows.py [--repeats 2000] [--out benchmarks/results/sparse_rows.json]

A served "for you" list scores one shopper with item-kNN (``history @ similarity``) and
explains its items by the similarity between the shopper's last items and the list
(``similarity[anchors][:, items]``). scipy builds several matrix objects per such call;
``shopsense.models.base`` reads the CSR arrays directly when there are few rows. This
times both ways on random similarity matrices of the serving benchmark's shop (2,000
products, 27 neighbours each) and of Amazon Beauty with the studied item-kNN setting
(12,101 products, 417 neighbours each), for histories of 3, 10 and 30 items and lists of
10 items, one call at a time (the median of ``--repeats`` calls, in microseconds of CPU).
The answers are checked equal before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy.sparse as sp

from common import provenance
from shopsense.models.base import sparse_block, sparse_product

RESULTS = Path(__file__).parent / "results" / "sparse_rows.json"
SHAPES = {"serving shop": (2_000, 27), "beauty": (12_101, 417)}


def similarity(n_items: int, neighbours: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_items), neighbours)
    columns = rng.integers(0, n_items, rows.size)
    values = rng.random(rows.size, dtype=np.float32)
    matrix = sp.csr_matrix((values, (rows, columns)), shape=(n_items, n_items))
    matrix.sum_duplicates()
    return matrix


def cpu_us(call: Callable[[], object], repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.process_time_ns()
        call()
        times.append((time.process_time_ns() - started) / 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for name, (n_items, neighbours) in SHAPES.items():
        s = similarity(n_items, neighbours, 1)
        for length in (3, 10, 30):
            items = rng.choice(n_items, length, replace=False)
            x = sp.csr_matrix(
                (np.ones(length, np.float32), (np.zeros(length, np.int64), items)),
                shape=(1, n_items),
            )
            listed = rng.choice(n_items, 10, replace=False)
            anchors = items[-20:]
            np.testing.assert_allclose(
                sparse_product(x, s), (x @ s).toarray(), rtol=1e-5, atol=1e-6
            )
            np.testing.assert_array_equal(
                sparse_block(s, anchors, listed), s[anchors][:, listed].toarray()
            )
            row = {
                "matrix": name,
                "history": length,
                "product_scipy_us": cpu_us(
                    lambda: np.asarray((x @ s).toarray(), np.float32),  # noqa: B023
                    args.repeats,
                ),
                "product_direct_us": cpu_us(lambda: sparse_product(x, s), args.repeats),  # noqa: B023
                "block_scipy_us": cpu_us(
                    lambda: s[anchors][:, listed].toarray().astype(np.float32),  # noqa: B023
                    args.repeats,
                ),
                "block_direct_us": cpu_us(
                    lambda: sparse_block(s, anchors, listed),  # noqa: B023
                    args.repeats,
                ),
            }
            rows.append({k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()})
            print(json.dumps(rows[-1]))
    result = {
        "command": f"python benchmarks/sparse_rows.py --repeats {args.repeats}",
        **provenance(),
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
