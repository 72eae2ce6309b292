"""Cold start: how well brand-new products (no events at all) get recommended.

Protocol. Pick ``--holdout`` (default 10%) of the products that have events, at random,
and remove *all* their events; train on the rest (the held-out products stay in the
catalog, with features but no events). For every shopper who interacted with a held-out
product and still has training events, rank (a) the held-out products only and (b) the
full catalog minus the shopper's training items; the targets are the held-out products
the shopper touched. Report HR@10 (any target in the top 10) and NDCG@10 (binary gains).

Baselines, using only what is fair for items without events:
- ``random``: nothing known about new items (uniform scores).
- ``category_pop``: a new product scores the mean training popularity of the items in its
  leaf category; in the full catalog, products with events keep their own popularity.
- ``user_category``: the share of the shopper's training events in the product's leaf
  category (a personal content baseline), category popularity breaking ties.

Also the warm protocol (leave-one-out, full ranking, :mod:`shopsense.evaluation`): ALS
against the item tower on the same data, validation and test.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/cold_start.py --dataset shop
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/cold_start.py --dataset scientific
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.domain import Product
from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import leave_one_out
from shopsense.features.interactions import InteractionData
from shopsense.features.item_features import ItemFeatures, ItemFeatureSpace, catalog_features
from shopsense.metrics import hit_at_k, ndcg_at_k
from shopsense.models import ALS, Recommender
from shopsense.models.item_tower import ItemTower

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
Scorer = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]
log = logging.getLogger("cold_start")


def load_shop(n_products: int) -> tuple[list[Product], InteractionData]:
    from shopsense.store import InMemoryStore
    from shopsense.synth import ShopConfig, generate_shop

    shop = generate_shop(ShopConfig(n_products=n_products))
    store = InMemoryStore()
    store.events.append(shop.events)
    ids = [p.id for p in shop.products]
    return shop.products, InteractionData.from_events(store.events.iter_batches(), items=ids)


def load_scientific() -> tuple[list[Product], InteractionData]:
    from shopsense.ingest.datasets.unisrec import read_unisrec, read_unisrec_sequences

    path = SHARED / "amazon-scientific"
    products = list(read_unisrec(path).products)
    sequences = read_unisrec_sequences(path)
    return products, InteractionData.from_sequences(sequences, items=[p.id for p in products])


def features_for(
    name: str, products: list[Product], data: InteractionData, cache: Path
) -> tuple[ItemFeatureSpace, ItemFeatures]:
    """Catalog features; the MiniLM text embeddings are cached (they take a minute)."""
    from shopsense.features.text import TextEncoder

    file = cache / f"cold-start-text-{name}-{data.n_items}.npy"
    space, features = catalog_features(products, data.items.to_list(), encoder=None)
    if file.is_file():
        text = np.load(file)
    else:
        text = space.transform(
            [{p.id: p for p in products}.get(i) for i in data.items.to_list()],
            TextEncoder(num_threads=2),
        ).text
        cache.mkdir(parents=True, exist_ok=True)
        np.save(file, text)
    return space, ItemFeatures(text, features.tokens)


def cold_split(
    data: InteractionData, fraction: float, seed: int
) -> tuple[InteractionData, npt.NDArray[np.int64]]:
    """Training data without any event on the held-out items, and those items."""
    rng = np.random.default_rng(seed)
    with_events = np.flatnonzero(np.bincount(data.log_item, minlength=data.n_items) > 0)
    held = np.sort(rng.choice(with_events, round(fraction * with_events.size), replace=False))
    return data.subset(~np.isin(data.log_item, held)), held


def leaf_of(products: list[Product], data: InteractionData) -> npt.NDArray[np.int64]:
    by_id = {p.id: " > ".join(p.category) for p in products}
    leaves = [by_id.get(i, "") for i in data.items.to_list()]
    _, index = np.unique(leaves, return_inverse=True)
    return index.astype(np.int64)


def category_scorers(
    train: InteractionData, leaf: npt.NDArray[np.int64], held: npt.NDArray[np.int64]
) -> dict[str, Scorer]:
    binary = (train.matrix > 0).astype(np.float64)
    popularity = np.asarray(binary.sum(axis=0)).ravel()
    n_leaves = int(leaf.max()) + 1
    warm = popularity > 0
    leaf_total = np.bincount(leaf[warm], weights=popularity[warm], minlength=n_leaves)
    leaf_items = np.maximum(np.bincount(leaf[warm], minlength=n_leaves), 1)
    category_pop = (leaf_total / leaf_items)[leaf]
    base = popularity.copy()
    base[held] = category_pop[held]
    base = base / (base.max() + 1e-9)
    one_hot = np.zeros((train.n_items, n_leaves))
    one_hot[np.arange(train.n_items), leaf] = 1.0
    rng = np.random.default_rng(0)

    def by_user(users: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        rows = binary[users] @ one_hot
        share = rows / np.maximum(rows.sum(axis=1, keepdims=True), 1.0)
        return np.asarray(share[:, leaf] + 1e-3 * base, np.float32)

    return {
        "random": lambda users: rng.random((users.size, train.n_items)).astype(np.float32),
        "category_pop": lambda users: np.tile(base.astype(np.float32), (users.size, 1)),
        "user_category": by_user,
    }


def rank_cold(
    score: Scorer, train: InteractionData, full: InteractionData, held: npt.NDArray[np.int64]
) -> dict[str, float]:
    """HR@10 / NDCG@10 among the held-out items and within the full catalog."""
    held_matrix = full.matrix[:, held]
    has_train = np.diff(train.matrix.indptr) > 0
    users = np.flatnonzero((np.diff(held_matrix.tocsr().indptr) > 0) & has_train)
    sums = dict.fromkeys(("HR@10 new", "NDCG@10 new", "HR@10 all", "NDCG@10 all"), 0.0)
    for start in range(0, users.size, 256):
        batch = users[start : start + 256]
        scores = score(batch).astype(np.float64)
        seen = train.matrix[batch]
        rows = np.repeat(np.arange(batch.size), np.diff(seen.indptr))
        scores[rows, seen.indices] = -np.inf
        among_new = held[np.argsort(-scores[:, held], axis=1, kind="stable")[:, :10]]
        among_all = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        for i, user in enumerate(batch):
            relevant = dict.fromkeys(held[held_matrix[user].indices].tolist(), 1.0)
            for key, ranked in (("new", among_new[i]), ("all", among_all[i])):
                sums[f"HR@10 {key}"] += hit_at_k(ranked.tolist(), relevant, 10)
                sums[f"NDCG@10 {key}"] += ndcg_at_k(ranked.tolist(), relevant, 10)
    out = {k: v / max(users.size, 1) for k, v in sums.items()}
    out["users"] = float(users.size)
    return out


def model_scorer(model: Recommender) -> Scorer:
    return lambda users: model.score(model.training_histories(users))


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    if args.dataset == "shop":
        products, data = load_shop(args.products)
    else:
        products, data = load_scientific()
    space, features = features_for(args.dataset, products, data, Path(args.cache))
    log.info("loaded %s and features in %.0fs", args.dataset, time.perf_counter() - started)
    params: dict[str, Any] = json.loads(args.params)
    towers = {
        f"item_tower[{objective}]": lambda objective=objective: ItemTower(
            objective=objective, num_threads=args.threads, **params.get(objective, {})
        ).with_item_features(features, space)
        for objective in args.objectives.split(",")
    }
    result: dict[str, Any] = {"dataset": args.dataset, "items": data.n_items}
    train, held = cold_split(data, args.holdout, args.seed)
    cold: dict[str, dict[str, float]] = {}
    for name, scorer in category_scorers(train, leaf_of(products, data), held).items():
        cold[name] = rank_cold(scorer, train, data, held)
    for name, make in towers.items():
        began = time.perf_counter()
        model = make().fit(train)
        cold[name] = rank_cold(model_scorer(model), train, data, held)
        cold[name]["train_seconds"] = time.perf_counter() - began
        log.info("%s cold %s", name, cold[name])
    result["cold"] = cold
    if not args.skip_warm:
        split = leave_one_out(data)
        warm: dict[str, dict[str, float]] = {}
        makers: dict[str, Callable[[], Recommender]] = {"als": ALS, **towers}
        for name, make in makers.items():
            valid = evaluate(make(), split, stage="valid")
            test = evaluate(make(), split, stage="test")
            warm[name] = {
                "valid NDCG@10": valid["NDCG@10"],
                "test HR@10": test["HR@10"],
                "test NDCG@10": test["NDCG@10"],
                "train_seconds": test["train_seconds"],
            }
            log.info("%s warm %s", name, warm[name])
        result["warm"] = warm
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"### {result['dataset']} ({result['items']} items)", ""]
    lines += ["| cold start | users | HR@10 new | NDCG@10 new | HR@10 all | NDCG@10 all |"]
    lines += ["|---|---|---|---|---|---|"]
    for name, m in result["cold"].items():
        lines.append(
            f"| {name} | {m['users']:.0f} | {m['HR@10 new']:.4f} | {m['NDCG@10 new']:.4f} "
            f"| {m['HR@10 all']:.4f} | {m['NDCG@10 all']:.4f} |"
        )
    if "warm" in result:
        lines += ["", "| warm (leave-one-out) | valid NDCG@10 | test HR@10 | test NDCG@10 "]
        lines[-1] += "| train s |"
        lines += ["|---|---|---|---|---|"]
        for name, m in result["warm"].items():
            lines.append(
                f"| {name} | {m['valid NDCG@10']:.4f} | {m['test HR@10']:.4f} "
                f"| {m['test NDCG@10']:.4f} | {m['train_seconds']:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("shop", "scientific"), default="shop")
    parser.add_argument("--products", type=int, default=5000, help="sample shop size")
    parser.add_argument("--holdout", type=float, default=0.1, help="share of products held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--objectives", default="softmax,als")
    parser.add_argument("--params", default="{}", help='JSON {"softmax": {...}, "als": {...}}')
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-warm", action="store_true")
    parser.add_argument("--cache", default="/tmp/shopsense-bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
