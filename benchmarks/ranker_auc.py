"""Offline CTR / CVR / CTCVR AUC of the ranker variants on held-out logged impressions.

    .venv/bin/python benchmarks/ranker_auc.py --users 1000 --products 2000
    .venv/bin/python benchmarks/ranker_auc.py --aliccp ../shared/datasets/event-samples

Sample shop protocol: retrieval models and item statistics learn from the first half of the
window; every impression logged after it becomes a row (features from what was known at its
request); rows before 80% of the window train, the rest test. Ali-CCP: the sample's feature
columns as they are (train file -> train, val + test files -> test); a smoke run only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from shopsense.ingest.datasets.aliccp import load_aliccp
from shopsense.models.ranker import MultiTaskRanker
from shopsense.ranking.features import ItemTable
from shopsense.ranking.logged import LoggedRows, event_arrays
from shopsense.ranking.training import ranker_aucs, roc_auc, training_rows
from shopsense.store.base import EventBatch, event_row, to_micros
from shopsense.synth import ShopConfig, generate_shop

VARIANTS = {
    "click-only": {"mode": "click"},
    "single-task (BASE)": {"mode": "single"},
    "ESMM shared-bottom": {"mode": "esmm", "bottom": "shared"},
    "ESMM MMoE": {"mode": "esmm", "bottom": "mmoe"},
}


def report(train: LoggedRows, test: LoggedRows, epochs: int) -> None:
    print(f"train rows {len(train)} (clicks {train.click.sum()}, purchases {train.purchase.sum()})")
    print(f"test rows {len(test)} (clicks {test.click.sum()}, purchases {test.purchase.sum()})")
    print(f"{'model':<22} {'CTR AUC':>8} {'CVR AUC':>8} {'CTCVR AUC':>9} {'fit s':>6}")
    for name, params in VARIANTS.items():
        began = time.perf_counter()
        ranker = MultiTaskRanker(epochs=epochs, **params).fit(  # type: ignore[arg-type]
            train.features, train.position, train.click, train.purchase
        )
        aucs = ranker_aucs(ranker, test)
        print(
            f"{name:<22} {aucs['ctr_auc']:8.4f} {aucs['cvr_auc']:8.4f} {aucs['ctcvr_auc']:9.4f} "
            f"{time.perf_counter() - began:6.1f}"
        )


def sample_shop(args: argparse.Namespace) -> None:
    shop = generate_shop(ShopConfig(n_users=args.users, n_products=args.products, seed=args.seed))
    table = ItemTable.from_products(shop.products)
    log, users, queries = event_arrays(
        EventBatch.from_rows([event_row(e) for e in shop.events]), table
    )
    start, end = to_micros(shop.truth.start), to_micros(shop.truth.end)
    rows, builder, _ = training_rows(log, users, queries, table, start + (end - start) // 2)
    split = start + int(0.8 * (end - start))
    train, test = rows.select(rows.time < split), rows.select(rows.time >= split)
    report(train, test, args.epochs)
    print("\nsingle features on the test rows (AUC of the raw value, click / purchase):")
    for j, name in enumerate(builder.feature_names):
        column = test.features[:, j]
        print(
            f"  {name:<22} {roc_auc(test.click, column):.3f} {roc_auc(test.purchase, column):.3f}"
        )


def aliccp(path: Path, epochs: int) -> None:
    sample = load_aliccp(path)
    first = sample.rows_per_source[0]
    x = np.asarray(sample.features, np.float32)
    position = np.zeros(len(x), np.int64)

    def rows(part: slice) -> LoggedRows:
        n = len(x[part])
        return LoggedRows(
            x[part], position[part], sample.click[part], sample.purchase[part],
            np.zeros(n, np.int64), np.zeros(n, np.int64),
        )  # fmt: skip

    print(f"Ali-CCP sample: {', '.join(Path(s).name for s in sample.sources)}")
    report(rows(slice(0, first)), rows(slice(first, None)), epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--aliccp", type=Path, help="Ali-CCP file or folder instead")
    args = parser.parse_args()
    if args.aliccp:
        aliccp(args.aliccp, args.epochs)
    else:
        sample_shop(args)


if __name__ == "__main__":
    main()
