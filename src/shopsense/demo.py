"""``shopsense demo``: the whole loop on the built-in sample shop.

Generate the shop into the data dir, ingest its files through the normal validated path,
train and evaluate the models, and show recommendations for two shoppers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shopsense.config import Settings
from shopsense.ingest.ingester import ingest_catalog_file, ingest_events_file
from shopsense.pipeline import latest_bundle, train
from shopsense.progress import note, task
from shopsense.ranking.stack import Stack
from shopsense.store import open_store


def stack_table(stack: Stack) -> str:
    """What the default stack chose and how it did, as plain text."""
    report = stack.report
    retrieval = report.get("retrieval", {})
    lines = ["Retrieval models, validation NDCG@10 (next event, repeats allowed where learned)"]
    blend = retrieval.get("blend", {})
    for name, value in sorted(retrieval.get("single", {}).items(), key=lambda kv: -kv[1]):
        weight = f"  weight {blend[name]:g} in the blend" if name in blend else ""
        lines.append(f"  {name:<12} {value:.4f}{weight}")
    if "blend_ndcg@10" in retrieval:
        lines.append(f"  {'blend':<12} {retrieval['blend_ndcg@10']:.4f}")
    ranker = report.get("ranker", {})
    if "skipped" in ranker:
        lines.append(f"Ranker: not trained ({ranker['skipped']})")
    else:
        rows = ranker.get("rows", {})
        lines.append(
            f"Ranker on held-out shoppers' impressions ({rows.get('test', 0):,} rows, "
            f"{rows.get('test_click', 0):,} clicks, {rows.get('test_purchase', 0):,} purchases)"
        )
        lines.append(f"  {'task':<9} {'model':<10} {'AUC':>7} {'log-loss':>9} {'ECE':>8}")
        for task, models in ranker.get("tasks", {}).items():
            for model in ("ranker", "logistic", "item_rate"):
                m = models[model]
                lines.append(
                    f"  {task:<9} {model:<10} {m['auc']:7.4f} {m['log_loss']:9.5f} {m['ece']:8.5f}"
                )
    lines.append(f"Serving: {stack.strategy}, objective {stack.config.objective}")
    return "\n".join(lines)


@dataclass(frozen=True)
class ShopperList:
    """A shopper's "for you" list as ``GET /recommendations/{user_id}`` answers it."""

    #: The API's JSON body (:class:`~shopsense.api.schemas.RecommendationsOut`) less what
    #: only a server has: ``request_id``, ``experiment`` and each item's ``propensity``.
    body: dict[str, Any]
    #: How many stored events of the shopper the list was computed from (0: unknown shopper).
    history: int

    @property
    def fallback(self) -> bool:
        """Trending products stand in (no history, or none that the models know)."""
        return bool(self.body["strategy"] == "trending")


def recommendations_for(
    settings: Settings, user_id: str, n: int = 10, objective: str | None = None
) -> ShopperList:
    """Top ``n`` products for a shopper from the latest bundle, as the server answers
    ``for_you`` (the stored history, impressions included), with titles and reasons."""
    from shopsense.recommend import CatalogView, ModelSet, RecommendationEngine

    store = open_store(settings)
    try:
        models = ModelSet.load(latest_bundle(settings))
        catalog = CatalogView(p for batch in store.catalog.iter_products() for p in batch)
        history = store.events.user_history(user_id, 100)
        engine = RecommendationEngine(models, catalog, settings.event_weights.weights)
        engine.forget_digests(store.events.forgotten(), store.events.digest)  # deletions stick
    finally:
        store.close()
    result = engine.recommend(
        "for_you",
        user_id,
        history,
        n,
        objective=objective,  # type: ignore[arg-type]
    )
    items = []
    for rec in result.items:
        product = catalog.get(rec.item_id)
        items.append(
            {  # the keys and values of the API's items (``ServingState.item_out``)
                "item_id": rec.item_id,
                "score": round(rec.score, 6),
                "title": product.title if product else rec.item_id,
                "category": product.category_path if product else "",
                "brand": product.brand if product else None,
                "price": product.price if product else None,
                "in_stock": product.in_stock if product else False,
                "explanation": rec.reason,
            }
        )
    body = {
        "user_id": user_id,
        "scenario": result.scenario,
        "strategy": result.strategy,
        "bundle": result.bundle_id,
        "items": items,
    }
    return ShopperList(body, len(history))


def run_demo(
    settings: Settings,
    n_products: int = 5000,
    n_users: int = 2000,
    seed: int = 7,
) -> list[str]:
    """Run the demo: build, ingest and train the sample shop, print the evaluation table
    and two shoppers' recommendations; returns those shoppers' ids. (``shopsense demo``
    then serves it.)
    """
    from shopsense.synth import ShopConfig, generate_shop, write_shop

    started = time.perf_counter()
    note(f"[1/4] generating the sample shop ({n_products:,} products, {n_users:,} shoppers)")
    shop = generate_shop(ShopConfig(n_products=n_products, n_users=n_users, seed=seed))
    files = write_shop(shop, settings.data_dir / "sample-shop")
    store = open_store(settings)
    note(f"[2/4] ingesting into {settings.database_url}")
    with task("ingesting the catalog", total=len(shop.products), unit="rows") as advance:
        catalog = ingest_catalog_file(store.catalog, files.catalog, progress=advance)
    with task("ingesting the events", total=len(shop.events), unit="rows") as advance:
        events = ingest_events_file(
            store.events, files.events, known_items=store.catalog.ids(), progress=advance
        )
    note(catalog.summary())
    note(events.summary())
    note("[3/4] training the default stack (retrieval on validation, ranker on feedback)")
    result = train(store, settings)
    print()
    print("The default stack on the sample shop")
    print(stack_table(result.stack))
    note("[4/4] recommending")
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
        answer = recommendations_for(settings, user_id, 5).body
        print(f"  recommended for you ({answer['strategy']}):")
        for item in answer["items"]:
            print(f"    {item['item_id']}  {item['title'][:60]}")
            print(f"            {item['explanation']}")
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s; data in {settings.data_dir}")
    print("try: shopsense recommend " + shoppers[0] + " | shopsense stats | shopsense --help")
    return shoppers
