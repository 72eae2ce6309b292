"""``shopsense demo``: the whole loop on the built-in sample shop.

Generate the shop into the data dir, ingest its files through the normal validated path,
train and evaluate the models, and show recommendations for two shoppers.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from shopsense.config import Settings
from shopsense.errors import ModelError
from shopsense.ingest.ingester import ingest_catalog_file, ingest_events_file
from shopsense.models.als import ALS
from shopsense.models.base import Recommender
from shopsense.pipeline import latest_bundle, load_models, train
from shopsense.store import open_store

METRIC_COLUMNS = ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20", "train_seconds")


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    """A plain-text table of offline metrics, one row per model."""
    header = f"{'model':<12}" + "".join(f"{c:>14}" for c in METRIC_COLUMNS)
    lines = [header, "-" * len(header)]
    for name, values in metrics.items():
        cells = "".join(f"{values.get(c, float('nan')):>14.4f}" for c in METRIC_COLUMNS)
        lines.append(f"{name:<12}{cells}")
    users = next(iter(metrics.values()), {}).get("users")
    if users:
        lines.append(f"(leave-one-out, full ranking over all items, {int(users):,} test users)")
    return "\n".join(lines)


def explain(
    model: Recommender, history: list[str], item_id: str, titles: dict[str, str] | None = None
) -> str:
    """Why ``item_id`` is recommended: the most similar item the shopper interacted with."""
    if isinstance(model, ALS) and history:
        index = model.items_.indices(history)
        known = index[index >= 0]
        target = model.items_.get(item_id)
        if known.size and target is not None:
            factors = model.item_factors_
            norms = np.linalg.norm(factors[known], axis=1) * np.linalg.norm(factors[target])
            similarity = factors[known] @ factors[target] / np.maximum(norms, 1e-9)
            because = str(model.items_.id(int(known[int(np.argmax(similarity))])))
            name = (titles or {}).get(because, because)
            return f"because you viewed {name[:40]}"
    return "popular with shoppers"


def recommendations_for(
    settings: Settings, user_id: str, model_name: str = "als", n: int = 10
) -> list[dict[str, Any]]:
    """Top ``n`` products for a shopper from the latest bundle, with titles and reasons."""
    models = load_models(latest_bundle(settings))
    if model_name not in models:
        raise ModelError(f"model {model_name!r} is not in the latest bundle ({', '.join(models)})")
    model = models[model_name]
    store = open_store(settings)
    history = [e.item_id for e in store.events.user_history(user_id, 50) if e.item_id]
    item_ids, scores = model.recommend(user_id, n=n)
    products = {p.id: p for p in store.catalog.get_many([*item_ids, *history])}
    titles = {pid: p.title for pid, p in products.items()}
    rows = []
    for item_id, score in zip(item_ids, scores, strict=True):
        product = products.get(str(item_id))
        rows.append(
            {
                "item_id": str(item_id),
                "score": float(score),
                "title": product.title if product else "",
                "category": product.category_path if product else "",
                "because": explain(model, history, str(item_id), titles),
            }
        )
    return rows


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_demo(
    settings: Settings,
    n_products: int = 5000,
    n_users: int = 2000,
    seed: int = 7,
    serve: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> int:
    """Run the demo; prints the evaluation table and two shoppers' recommendations.

    With ``serve`` it ends by serving the storefront, the dashboard and the API on
    ``http://host:port`` (printing the URL) until interrupted.
    """
    from shopsense.synth import ShopConfig, generate_shop, write_shop

    started = time.perf_counter()
    _say(f"[1/4] generating the sample shop ({n_products:,} products, {n_users:,} shoppers)")
    shop = generate_shop(ShopConfig(n_products=n_products, n_users=n_users, seed=seed))
    files = write_shop(shop, settings.data_dir / "sample-shop")
    store = open_store(settings)
    _say(f"[2/4] ingesting into {settings.database_url}")
    with tqdm(total=len(shop.products), desc="catalog", unit=" rows", disable=None) as bar:
        catalog = ingest_catalog_file(store.catalog, files.catalog, progress=bar.update)
    with tqdm(total=len(shop.events), desc="events", unit=" rows", disable=None) as bar:
        events = ingest_events_file(
            store.events, files.events, known_items=store.catalog.ids(), progress=bar.update
        )
    _say("      " + catalog.summary().replace("\n", "\n      "))
    _say("      " + events.summary().replace("\n", "\n      "))
    _say("[3/4] training and evaluating popularity and ALS")
    result = train(store, settings, ("popularity", "als"), on_step=lambda m: _say(f"      {m}"))
    print()
    print("Offline evaluation on the sample shop")
    print(metrics_table(result.metrics))
    _say("[4/4] recommending")
    counts = store.events.count_by_kind()
    print(
        f"\nstore: {store.catalog.count():,} products, {store.events.user_count():,} users, "
        f"{sum(counts.values()):,} events"
    )
    shoppers = sorted({e.user_id for e in shop.events})[:2]
    for user_id in shoppers:
        history = store.events.user_history(user_id, 200)
        bought = [e for e in history if e.kind.value in ("purchase", "add_to_cart", "click")]
        recent = list(dict.fromkeys(e.item_id for e in reversed(bought) if e.item_id))[:3]
        titles = {p.id: p.title for p in store.catalog.get_many(recent)}
        print(f"\nShopper {user_id}: recently engaged with")
        for item_id in recent:
            print(f"    {item_id}  {titles.get(item_id, '')}")
        print("  recommended for you (ALS):")
        for row in recommendations_for(settings, user_id, "als", 5):
            print(f"    {row['item_id']}  {row['title'][:60]}")
            print(f"            {row['because']}")
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s; data in {settings.data_dir}")
    print("try: shopsense recommend " + shoppers[0] + " | shopsense stats | shopsense --help")
    if not serve:
        return 0
    from shopsense.commands.serve import serve as serve_http

    print(f"\nstorefront: http://{host}:{port}/?as={shoppers[0]}  (browse as a sample shopper)")
    return serve_http(settings, host=host, port=port)
