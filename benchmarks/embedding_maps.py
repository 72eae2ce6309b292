"""What the item-embedding maps say: do the served models' item vectors know the categories?

    python benchmarks/embedding_maps.py [--products 2000] [--users 1000]
        [--models als,item_tower,sasrec]

Generates the sample shop (``shopsense generate``'s generator, seed 7: products in a
category tree, shoppers with hidden tastes) in memory and fits each model on all its
events as the default stack fits its sources (the stack's hyper-parameters; the item tower
with the catalog's features and the static text encoder, as ``shopsense train`` with the
search extra; SASRec, not a default source, at its own defaults). Then it measures each
model's map as the dashboard draws it (:mod:`shopsense.evaluation.embedding_map`): for
1,000 sampled products, how often the nearest neighbour (cosine, in the full vectors) has
the same top category, against a random other product's chance of it. Writes
``results/embedding_maps.json``. The pictures: ``shopsense evaluate --report DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from common import provenance

RESULTS = Path(__file__).resolve().parent / "results" / "embedding_maps.json"


def main(argv: list[str] | None = None) -> int:
    from shopsense.evaluation.runner import category_labels, item_map
    from shopsense.features.interactions import InteractionData
    from shopsense.features.item_features import catalog_features
    from shopsense.ranking.fitting import make_model, text_encoder
    from shopsense.store import InMemoryStore
    from shopsense.synth import ShopConfig, generate_shop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--models", default="als,item_tower,sasrec")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]

    began = time.perf_counter()
    shop = generate_shop(ShopConfig(n_products=args.products, n_users=args.users, seed=7))
    store = InMemoryStore()
    store.catalog.upsert(shop.products)
    store.events.append(shop.events)
    item_ids = sorted(p.id for p in shop.products)
    data = InteractionData.from_events(store.events.iter_batches(), items=item_ids)
    by_id = {p.id: p for p in shop.products}
    space, features = catalog_features([by_id[i] for i in item_ids], item_ids,
                                       text_encoder("static"))  # fmt: skip
    labels = category_labels(shop.products)
    rows: dict[str, Any] = {}
    print(f"{'model':<12}{'fit s':>7}{'mapped':>8}{'no vector':>11}{'NN same':>9}"
          f"{'chance':>8}{'lift':>7}")  # fmt: skip
    for name in models:
        started = time.perf_counter()
        model = make_model(name, {}, (space, features, "static")).fit(data)
        seconds = time.perf_counter() - started
        drawn = item_map(name, model, labels, tsne=False)
        if drawn is None:
            print(f"{name:<12} has no item vectors")
            continue
        rows[name] = {"fit_seconds": round(seconds, 1), **drawn.summary()}
        print(
            f"{name:<12}{seconds:>7.1f}{len(drawn.item_ids):>8}{drawn.items_without_vector:>11}"
            f"{drawn.neighbour_same:>9.1%}{drawn.chance_same:>8.1%}{drawn.lift:>7.2f}"
        )
    result = {
        "command": "python benchmarks/embedding_maps.py "
        f"--products {args.products} --users {args.users} --models {args.models}",
        **provenance(),
        "data": f"sample shop, seed 7: {args.products} products, {args.users} shoppers, "
        f"{data.n_events} weighted interactions; every model fitted on all of them",
        "seconds": round(time.perf_counter() - began, 1),
        "models": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
