"""The training steps as Spark SQL / MLlib jobs over the exported events.

Each function takes Spark DataFrames and returns either a DataFrame (still distributed) or
the small per-item result as NumPy arrays on the driver: per-item counts, item factors,
the top neighbours of each item. Nothing here collects per-event or per-shopper rows except
:func:`validation_sample` (a bounded sample of shoppers).

Events come indexed by :func:`indexed_events`: ``user_id``, ``session_id``, ``kind``,
``item`` (the product's index in the stack's item table; events on products outside the
catalog are dropped), ``ts`` (epoch microseconds), ``seq`` (the order within a shopper's
log at one timestamp) and ``weight`` (the event kind's weight, 0 for impressions and
searches).

Example::

    >>> events = indexed_events(spark.read.parquet("export/events"), item_ids)  # doctest: +SKIP
    >>> users = distinct_users_per_item(engagements(events), len(item_ids))     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.store.base import MICROS_PER_DAY

DataFrame = Any  # pyspark.sql.DataFrame (pyspark is an optional dependency)
FloatArray = npt.NDArray[np.float32]


def _f() -> Any:
    from pyspark.sql import functions

    return functions


def indexed_events(
    raw: DataFrame, item_ids: Sequence[str], weights: Mapping[EventKind, float] | None = None
) -> DataFrame:
    """The exported events (``store/export`` schema) with item indices and kind weights."""
    f = _f()
    spark = raw.sparkSession
    items = spark.createDataFrame(list(enumerate(item_ids)), "item int, item_id string")
    kinds = spark.createDataFrame(
        [(k.value, float(w)) for k, w in (weights or DEFAULT_EVENT_WEIGHTS).items()],
        "kind string, weight double",
    )
    return (
        raw.join(f.broadcast(items), "item_id")
        .join(f.broadcast(kinds), "kind", "left")
        .select(
            "user_id",
            "session_id",
            "kind",
            "item",
            "event_id",
            f.unix_micros("timestamp").alias("ts"),
            f.coalesce("weight", f.lit(0.0)).alias("weight"),
        )
    )


def engagements(events: DataFrame) -> DataFrame:
    """The events with a positive weight (views, clicks, carts, purchases)."""
    return events.where("weight > 0")


def with_user_index(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``events`` with an integer ``user`` column (MLlib's ALS takes 32-bit ids), and the
    ``(user_id, user)`` map; indices come from a distributed ``zipWithIndex``."""
    spark = events.sparkSession
    ids = events.select("user_id").distinct().rdd.map(lambda row: row[0]).zipWithIndex()
    users = spark.createDataFrame(ids, "user_id string, user long").selectExpr(
        "user_id", "cast(user as int) as user"
    )
    return events.join(users, "user_id"), users


def user_item_weights(engaged: DataFrame) -> DataFrame:
    """One row per (shopper, product): the summed kind weights and the last time."""
    f = _f()
    return engaged.groupBy("user", "item").agg(
        f.sum("weight").alias("weight"), f.max("ts").alias("last_ts")
    )


def _per_item(frame: DataFrame, column: str, n_items: int) -> npt.NDArray[np.float64]:
    """A two-column ``(item, column)`` result as a dense ``(n_items,)`` array."""
    table = frame.select("item", column).toArrow()
    out = np.zeros(n_items, np.float64)
    if table.num_rows:
        index = table.column("item").to_numpy()
        out[index] = table.column(column).to_numpy(zero_copy_only=False)
    return out


def distinct_users_per_item(pairs: DataFrame, n_items: int) -> npt.NDArray[np.float64]:
    """How many shoppers engaged with each product (``pairs``: one row per shopper and
    product, as :func:`user_item_weights` gives)."""
    f = _f()
    return _per_item(pairs.groupBy("item").agg(f.count("*").alias("n")), "n", n_items)


def decayed_popularity(
    pairs: DataFrame, n_items: int, half_life_days: float, now_us: int | None = None
) -> npt.NDArray[np.float64]:
    """Each shopper counts ``0.5 ** (days since their last engagement / half_life)``; ``now``
    is the latest engagement unless given."""
    f = _f()
    if now_us is None:
        last = pairs.agg(f.max("last_ts")).first()
        now_us = int(last[0]) if last and last[0] is not None else 0
    age = f.greatest(f.lit(now_us) - f.col("last_ts"), f.lit(0)) / f.lit(MICROS_PER_DAY)
    decayed = pairs.groupBy("item").agg(
        f.sum(f.pow(f.lit(0.5), age / f.lit(half_life_days))).alias("n")
    )
    return _per_item(decayed, "n", n_items)


def kind_counts(events: DataFrame, n_items: int) -> dict[EventKind, npt.NDArray[np.float64]]:
    """Events of each kind per product (impressions, clicks, carts, purchases)."""
    f = _f()
    wanted = [EventKind.IMPRESSION, EventKind.CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE]
    grouped = (
        events.where(f.col("kind").isin([k.value for k in wanted]))
        .groupBy("item")
        .pivot("kind", [k.value for k in wanted])
        .count()
        .fillna(0)
    )
    return {k: _per_item(grouped, k.value, n_items) for k in wanted}


def recent_engagements(
    engaged: DataFrame, n_items: int, now_us: int, days: float
) -> npt.NDArray[np.float64]:
    """Engagements per product in the ``days`` before ``now_us``."""
    f = _f()
    since = now_us - int(days * MICROS_PER_DAY)
    recent = engaged.where(f.col("ts") >= since).groupBy("item").agg(f.count("*").alias("n"))
    return _per_item(recent, "n", n_items)


def co_occurrence(
    events: DataFrame, n_items: int, neighbors: int
) -> tuple[sp.csr_matrix, npt.NDArray[np.float64]]:
    """ "Bought together": for each product, the ``neighbors`` products that share the most
    baskets (sessions with an add-to-cart or purchase; without a session, the shopper) with
    it, as a sparse ``(n_items, n_items)`` count matrix with the top per row kept (ties by
    lower index, as :func:`~shopsense.models.item_knn.keep_top_per_row`), and each
    product's number of baskets."""
    f = _f()
    from pyspark.sql import Window

    kinds = [EventKind.ADD_TO_CART.value, EventKind.PURCHASE.value]
    baskets = (
        events.where(f.col("kind").isin(kinds))
        .select(f.coalesce("session_id", "user_id").alias("basket"), "item")
        .distinct()
    )
    counts = baskets.groupBy("item").agg(f.count("*").alias("n"))
    left = baskets.withColumnRenamed("item", "i")
    right = baskets.withColumnRenamed("item", "j")
    pairs = (
        left.join(right, "basket").where("i != j").groupBy("i", "j").agg(f.count("*").alias("c"))
    )
    if neighbors:
        order = Window.partitionBy("i").orderBy(f.desc("c"), f.asc("j"))
        pairs = pairs.withColumn("rank", f.row_number().over(order)).where(
            f.col("rank") <= neighbors
        )
    table = pairs.select("i", "j", "c").toArrow()
    matrix = sp.csr_matrix(
        (
            table.column("c").to_numpy().astype(np.float32),
            (table.column("i").to_numpy(), table.column("j").to_numpy()),
        ),
        shape=(n_items, n_items),
    )
    matrix.sort_indices()
    return matrix, _per_item(counts, "n", n_items)


def als_item_factors(
    pairs: DataFrame,
    n_items: int,
    factors: int,
    iterations: int,
    regularization: float,
    alpha: float,
    seed: int,
) -> FloatArray:
    """Implicit-feedback ALS with MLlib, the local model's objective as near as MLlib
    allows: the ``(n_items, factors)`` item factors, zero for products nobody engaged with.

    - The local model (``implicit``) weighs an interaction of log-scaled weight ``r`` by
      confidence ``alpha * r``; MLlib by ``1 + alpha * rating``. The rating given to MLlib is
      ``r - 1 / alpha`` (floored just above 0: MLlib reads a rating <= 0 as a dislike), so
      both weigh it alike.
    - MLlib scales each shopper's (and product's) regularisation by its number of ratings;
      ``regularization`` is divided by the mean number per shopper, so that an average
      shopper gets the local model's penalty."""
    f = _f()
    from pyspark.ml.recommendation import ALS

    rating = f.greatest(f.log1p("weight") - f.lit(1.0 / alpha), f.lit(1e-6))
    ratings = pairs.select("user", "item", rating.alias("rating")).cache()
    per_user = ratings.groupBy("user").count().agg(f.avg("count")).first()
    mean_ratings = float(per_user[0]) if per_user and per_user[0] else 1.0
    model = ALS(
        rank=factors,
        maxIter=iterations,
        regParam=regularization / mean_ratings,
        alpha=alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        seed=seed,
        intermediateStorageLevel="MEMORY_AND_DISK",
    ).fit(ratings)
    table = model.itemFactors.toArrow()
    out = np.zeros((n_items, factors), np.float32)
    if table.num_rows:
        rows = table.column("id").to_numpy()
        vectors = table.column("features").combine_chunks().flatten().to_numpy()
        out[rows] = vectors.reshape(-1, factors)
    ratings.unpersist()
    return out


def repeat_counts(
    engaged: DataFrame, leaf_of: npt.NDArray[np.int64], n_leaves: int
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Per leaf category ``(buy_repeats, buys, view_repeats, views)`` for
    :meth:`~shopsense.ranking.repeats.RepeatPolicy.from_counts`: purchases and engagement
    steps (consecutive engagements with one product are one step), and how many of them were
    on a product the shopper had before."""
    f = _f()
    from pyspark.sql import Window

    spark = engaged.sparkSession
    leaves = spark.createDataFrame(
        [(i, int(c)) for i, c in enumerate(leaf_of.tolist())], "item int, leaf int"
    )
    tagged = engaged.join(f.broadcast(leaves), "item")
    order = Window.partitionBy("user_id").orderBy("ts", "seq")
    steps = tagged.withColumn("previous", f.lag("item").over(order)).where(
        f.col("previous").isNull() | (f.col("previous") != f.col("item"))
    )

    def per_leaf(frame: DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        grouped = frame.groupBy("leaf").agg(
            f.count("*").alias("steps"),
            f.countDistinct("user_id", "item").alias("firsts"),
        )
        table = grouped.toArrow()
        total, firsts = np.zeros(n_leaves), np.zeros(n_leaves)
        if table.num_rows:
            leaf = table.column("leaf").to_numpy()
            total[leaf] = table.column("steps").to_numpy()
            firsts[leaf] = table.column("firsts").to_numpy()
        return total - firsts, total

    buy_repeats, buys = per_leaf(tagged.where(f.col("kind") == EventKind.PURCHASE.value))
    view_repeats, views = per_leaf(steps)
    return buy_repeats, buys, view_repeats, views


def with_order(events: DataFrame) -> DataFrame:
    """``events`` with ``seq``: the order of a shopper's events at one timestamp (by event
    id), so "last" and "previous" are well defined."""
    f = _f()
    from pyspark.sql import Window

    order = Window.partitionBy("user_id").orderBy("ts", "event_id")
    return events.withColumn("seq", f.row_number().over(order))


def next_event_split(engaged: DataFrame, min_events: int = 3) -> tuple[DataFrame, DataFrame]:
    """As :func:`~shopsense.evaluation.split.next_event`: shoppers with ``min_events`` or
    more engagements hold out their last one (test) and the one before it (validation).
    Returns the training engagements and ``(user, target)`` validation rows."""
    f = _f()
    from pyspark.sql import Window

    by_user = Window.partitionBy("user")
    newest_first = Window.partitionBy("user").orderBy(f.desc("ts"), f.desc("seq"))
    ranked = engaged.withColumn("n", f.count("*").over(by_user)).withColumn(
        "from_end", f.row_number().over(newest_first)
    )
    held = f.col("n") >= min_events
    train = ranked.where(~held | (f.col("from_end") > 2)).drop("n", "from_end")
    targets = ranked.where(held & (f.col("from_end") == 2)).select(
        "user", f.col("item").alias("target")
    )
    return train, targets


def validation_sample(
    train: DataFrame, targets: DataFrame, size: int, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Any]:
    """Up to ``size`` validation shoppers (a seeded sample): their targets and their training
    engagements (an Arrow table: ``user``, ``item``, ``ts``, ``weight``), collected to the
    driver with shoppers renumbered ``0..size-1``."""
    f = _f()
    chosen = targets.orderBy(f.rand(seed)).limit(size).cache()
    table = chosen.orderBy("user").toArrow()
    users = table.column("user").to_numpy().astype(np.int64)
    target = table.column("target").to_numpy().astype(np.int64)
    rows = (
        train.join(f.broadcast(chosen.select("user")), "user")
        .select("user", "item", "ts", "seq", "weight")
        .orderBy("user", "ts", "seq")
        .toArrow()
    )
    chosen.unpersist()
    return users, target, rows
