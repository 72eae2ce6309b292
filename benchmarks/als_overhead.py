"""ALS wall time through ShopSense against calling `implicit` directly on the same matrix.

    python benchmarks/als_overhead.py [--dataset beauty] [--runs 5]

Both sides train the same number of factors and iterations on the same confidence matrix
(ShopSense's weighting applied first, outside the timed region for the direct call). The
ShopSense time is the whole `ALS.fit` (id maps already built, popularity, confidence scaling,
training, zeroing untouched rows). Target (issue 3): within 1.15x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from threadpoolctl import threadpool_limits

from common import DATASETS, load
from shopsense.models import ALS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="beauty", choices=sorted(DATASETS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    args = parser.parse_args()
    from implicit.cpu.als import AlternatingLeastSquares

    data = load(args.dataset)
    model = ALS(factors=args.factors, iterations=args.iterations)
    confidence = model._confidence(data.matrix)
    direct, ours = [], []
    for _ in range(args.runs):
        with threadpool_limits(1, "blas"):
            raw = AlternatingLeastSquares(
                factors=args.factors,
                regularization=model.regularization,
                alpha=model.alpha,
                iterations=args.iterations,
                random_state=model.random_state,
            )
            started = time.perf_counter()
            raw.fit(confidence, show_progress=False)
            direct.append(time.perf_counter() - started)
        started = time.perf_counter()
        ALS(factors=args.factors, iterations=args.iterations).fit(data)
        ours.append(time.perf_counter() - started)
    d, o = statistics.median(direct), statistics.median(ours)
    print(
        f"dataset {args.dataset}: {data.n_users:,} users x {data.n_items:,} items, "
        f"{data.matrix.nnz:,} non-zeros; {args.factors} factors, {args.iterations} iterations"
    )
    print(f"implicit direct  median {d:.3f} s  ({', '.join(f'{x:.2f}' for x in direct)})")
    print(f"shopsense ALS    median {o:.3f} s  ({', '.join(f'{x:.2f}' for x in ours)})")
    print(f"ratio {o / d:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
