"""Train the default stack's retrieval side on Spark and assemble it as a local stack.

What runs where:

- **Spark** (:mod:`shopsense.distributed.jobs`): reading the exported events, the kind
  weights, per-product counts (shoppers, recent engagements, impressions, clicks, carts,
  purchases), per-category repeat shares, the validation split (each shopper's next
  engagement), ALS (MLlib, twice: on the training part for validation, then on everything),
  "trending" and "bought together".
- **The driver**: the item table (one row per product), scoring a bounded sample of
  validation shoppers (``StackConfig.validation_users``) to choose the blend with the same
  code as the local trainer (:func:`shopsense.training.blend_on_validation`), and the
  models assembled from Spark's arrays (:meth:`Recommender.from_state`).

The result is a :class:`~shopsense.ranking.stack.Stack` and the serving helpers, saved by
:func:`shopsense.pipeline.train` into the same bundle format as a local run. The retrieval
models tried are ALS and popularity; the feedback ranker, the item tower and the
sequence models are trained by the local engine only (the blend serves, as in a shop with
no feedback yet); the report says so.

Example::

    >>> stack, helpers = train_on_spark(Path("export/events"), table)   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shopsense import progress
from shopsense.distributed import jobs
from shopsense.distributed.session import DEFAULT_MASTER, spark_session
from shopsense.domain import EventKind
from shopsense.errors import ModelError
from shopsense.evaluation.offline import exclude_seen
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData
from shopsense.models import ALS, ItemKNN, Popularity, Recommender
from shopsense.models.base import Histories
from shopsense.models.hybrid import normalise
from shopsense.models.popularity import TRENDING_HALF_LIFE_DAYS
from shopsense.ranking.fitting import BOUGHT_TOGETHER, Step, model_params
from shopsense.ranking.items import RECENT_DAYS, ItemStats, ItemTable
from shopsense.ranking.repeats import RepeatPolicy
from shopsense.ranking.sources import RetrievalSources
from shopsense.ranking.stack import Stack, StackConfig
from shopsense.training import blend_line, blend_on_validation, validation_ndcg

#: The retrieval models the Spark engine fits.
SPARK_MODELS = ("popularity", "als")


def train_on_spark(
    events_dir: Path,
    table: ItemTable,
    config: StackConfig | None = None,
    master: str = DEFAULT_MASTER,
    on_step: Step | None = None,
    reference: Mapping[str, float] | None = None,
) -> tuple[Stack, dict[str, Recommender]]:
    """The stack and the serving helpers ("trending", "bought together") from the events
    exported under ``events_dir`` (``shopsense export events``), for the products of
    ``table``. ``reference``: the served blend, scored on the same validation split."""
    step = on_step or progress.note
    config = config or StackConfig(candidates=SPARK_MODELS, item_tower=False)
    names = [n for n in config.candidates if n in SPARK_MODELS] or list(SPARK_MODELS)
    began = time.perf_counter()
    step(f"starting Spark ({master})")
    spark = spark_session(master)
    n = len(table)
    raw = spark.read.parquet(str(events_dir))
    events, _ = jobs.with_user_index(jobs.with_order(jobs.indexed_events(raw, table.item_ids)))
    events = events.cache()
    engaged = jobs.engagements(events).cache()
    summary = events.agg({"ts": "max", "*": "count"}).first()
    count, now_us = int(summary["count(1)"] or 0), int(summary["max(ts)"] or 0)
    pairs = jobs.user_item_weights(engaged).cache()
    shoppers = pairs.select("user").distinct().count()
    step(f"Spark: {count} events on catalog products, {shoppers} shoppers")

    step("Spark: repeat shares per category")
    repeats = RepeatPolicy.from_counts(
        *jobs.repeat_counts(engaged, table.leaf, table.n_leaves), threshold=config.repeat_threshold
    )
    step(f"Spark: choosing retrieval models on validation ({', '.join(names)})")
    blend, retrieval = _choose(engaged, table, names, config, repeats, reference, step)
    step(blend_line(blend, retrieval))
    step("Spark: fitting the chosen models on every event")
    items = IdMap(table.item_ids)
    users_per_item = jobs.distinct_users_per_item(pairs, n)
    models = {m: _fit(m, pairs, items, users_per_item, config) for m in blend}
    counts = jobs.kind_counts(events, n)
    stats = ItemStats.from_counts(
        users_per_item,
        jobs.recent_engagements(engaged, n, now_us, RECENT_DAYS),
        counts,
        now_us,
        n_leaves=table.n_leaves,
    )
    step("Spark: trending and bought together")
    helpers = _serving_helpers(events, pairs, items, users_per_item, n)
    report: dict[str, Any] = {
        "engine": {"name": "spark", "master": master, "seconds": time.perf_counter() - began},
        "data": {
            "events": count,
            "users": shoppers,
            "items": n,
            "impressions": int(counts[EventKind.IMPRESSION].sum()),
            "clicks": int(counts[EventKind.CLICK].sum()),
        },
        "retrieval": retrieval,
        "repeats": repeats.summary(table),
        "ranker": {
            "skipped": "the Spark engine trains the retrieval blend; the feedback ranker "
            "trains with the local engine (`shopsense train`)"
        },
    }
    for frame in (pairs, engaged, events):
        frame.unpersist()
    stack = Stack(table, RetrievalSources(models), blend, stats, repeats, None, config, report)
    return stack, helpers


def _fit(
    name: str,
    pairs: Any,
    items: IdMap,
    users_per_item: np.ndarray[Any, Any],
    config: StackConfig,
) -> Recommender:
    """Retrieval model ``name`` from one-row-per-(shopper, product) ``pairs``."""
    params = model_params(name, config.params)
    if name == "popularity":
        counts = users_per_item.astype(np.float32)
        return Popularity.from_state(params, items, counts, {"counts_": counts})
    model = ALS(**params)
    factors = jobs.als_item_factors(
        pairs,
        len(items),
        model.factors,
        model.iterations,
        model.regularization,
        model.alpha,
        model.random_state,
    )
    state = {"user_factors_": np.zeros((0, model.factors), np.float32), "item_factors_": factors}
    return ALS.from_state(params, items, users_per_item, state)


def _choose(
    engaged: Any,
    table: ItemTable,
    names: list[str],
    config: StackConfig,
    repeats: RepeatPolicy,
    reference: Mapping[str, float] | None,
    step: Step,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Blend weights chosen on each validation shopper's next engagement: the models are
    fitted in Spark on the training part; a sample of shoppers is scored on the driver."""
    train, targets = jobs.next_event_split(engaged)
    train = train.cache()
    users, target, rows = jobs.validation_sample(
        train, targets, config.validation_users, config.seed
    )
    if users.size == 0:
        raise ModelError(
            "too little history to choose retrieval models: no shopper has 3 or more steps"
        )
    items = IdMap(table.item_ids)
    local = np.searchsorted(users, rows.column("user").to_numpy())
    data = InteractionData.from_log(
        IdMap([str(u) for u in users]),
        items,
        local.astype(np.int64),
        rows.column("item").to_numpy().astype(np.int64),
        rows.column("ts").to_numpy().astype(np.int64),
        rows.column("weight").to_numpy().astype(np.float32),
    )
    histories = Histories.from_data(data, np.arange(users.size, dtype=np.int64), fresh=True)
    may_not_repeat = ~repeats.allows_seen[table.leaf]
    pairs = jobs.user_item_weights(train).cache()
    users_per_item = jobs.distinct_users_per_item(pairs, len(items))
    cached: dict[str, np.ndarray[Any, Any]] = {}
    single: dict[str, float] = {}
    wanted = [*names, *(m for m in (reference or {}) if m not in names and m in SPARK_MODELS)]
    for name in wanted:
        step(f"Spark: validating {name}")
        model = _fit(name, pairs, items, users_per_item, config)
        scores = normalise(model.score(histories), "zscore")
        exclude_seen(scores, histories, may_not_repeat)
        cached[name] = scores
        if name in names:
            single[name] = validation_ndcg(scores, target, config.seed)
    pairs.unpersist()
    train.unpersist()
    chosen, report = blend_on_validation(cached, single, target, config, reference)
    return chosen, {"validation_users": int(users.size), **report}


def _serving_helpers(
    events: Any, pairs: Any, items: IdMap, users_per_item: np.ndarray[Any, Any], n: int
) -> dict[str, Recommender]:
    """ "trending" (recency-decayed popularity) and, with baskets, "bought together"."""
    decayed = jobs.decayed_popularity(pairs, n, TRENDING_HALF_LIFE_DAYS)
    helpers: dict[str, Recommender] = {
        "trending": Popularity.from_state(
            {"half_life_days": TRENDING_HALF_LIFE_DAYS},
            items,
            users_per_item.astype(np.float32),
            {"counts_": decayed.astype(np.float32)},
        )
    }
    together, baskets = jobs.co_occurrence(events, n, BOUGHT_TOGETHER["neighbors"])
    if baskets.sum() > 0:
        helpers["bought_together"] = ItemKNN.from_state(
            BOUGHT_TOGETHER,
            items,
            baskets.astype(np.float32),
            {
                "similarity_data": together.data,
                "similarity_indices": together.indices,
                "similarity_indptr": together.indptr,
                "similarity_shape": np.asarray(together.shape, np.int64),
            },
        )
    return helpers
