"""Sample shop generation time and shape.

    python benchmarks/sample_shop.py [--products 5000] [--users 2000] [--runs 3]

Prints the median time to generate and write the default shop, its event counts by kind and
its funnel rates.
"""

from __future__ import annotations

import argparse
import collections
import platform
import statistics
import tempfile
import time
from pathlib import Path

from shopsense.synth import ShopConfig, generate_shop, write_shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = ShopConfig(n_products=args.products, n_users=args.users)
    generate, write = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        shop = generate_shop(config)
        generate.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            write_shop(shop, Path(tmp))
            write.append(time.perf_counter() - started)
    kinds = collections.Counter(e.kind.value for e in shop.events)
    sessions = {e.session_id for e in shop.events}
    buying = {e.session_id for e in shop.events if e.kind.value == "purchase"}
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(
        f"shop: {len(shop.products):,} products, {args.users:,} users, "
        f"{len(shop.events):,} events, {len(sessions):,} sessions"
    )
    print(
        f"generate median {statistics.median(generate):.2f} s, "
        f"write median {statistics.median(write):.2f} s ({args.runs} runs)"
    )
    for kind, n in kinds.most_common():
        print(f"  {kind:<12} {n:>8,}")
    print(f"CTR (clicks / impressions): {kinds['click'] / max(kinds['impression'], 1):.3f}")
    print(f"sessions with a purchase:   {len(buying) / max(len(sessions), 1):.3f}")


if __name__ == "__main__":
    main()
