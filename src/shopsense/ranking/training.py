"""Fit the retrieval models and the ranker from an event log, and score rankers by AUC.

The protocol keeps the future out of every feature: retrieval models and item statistics
learn from the events before ``since_us``; the ranker learns from the impressions logged
after it, each described with what was known at its request (:mod:`.logged`).

Example::

    >>> log, users, queries = event_arrays(batch, table)                   # doctest: +SKIP
    >>> stack = train_stack(log, users, queries, table, since_us=cutoff)  # doctest: +SKIP
    >>> stack.recommend(state, n=10, now_us=now)                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from shopsense.domain import DEFAULT_EVENT_WEIGHTS
from shopsense.errors import ConfigError
from shopsense.evaluation.metrics import roc_auc  # re-exported: it lived here first
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData
from shopsense.models import MODELS
from shopsense.models.base import Recommender
from shopsense.models.ranker import MultiTaskRanker
from shopsense.ranking.features import EventArrays, FeatureBuilder, ItemStats, ItemTable
from shopsense.ranking.logged import LoggedRows, logged_rows, subset
from shopsense.ranking.stack import FullStack, RetrievalSources

logger = logging.getLogger(__name__)

#: Retrieval models of the full stack and their default hyper-parameters (the cheap ones:
#: every request scores all of them).
DEFAULT_SOURCES: dict[str, dict[str, Any]] = {
    "popularity": {},
    "als": {"factors": 64, "iterations": 15},
    "item_knn": {},
    "transition": {},
}


def interaction_data(
    log: EventArrays, user_ids: list[str], table: ItemTable, until_us: int | None = None
) -> InteractionData:
    """Weighted interactions of events before ``until_us``, items in the table's order."""
    weight_of = {k.value: w for k, w in DEFAULT_EVENT_WEIGHTS.items()}
    weight = np.array([weight_of.get(str(k), 0.0) for k in log.kind], np.float32)
    keep = (weight > 0) & (log.item >= 0)
    if until_us is not None:
        keep &= log.time < until_us
    return InteractionData.from_log(
        IdMap(user_ids),
        IdMap(table.item_ids),
        log.user[keep],
        log.item[keep],
        log.time[keep],
        weight[keep],
    )


def fit_sources(
    data: InteractionData, params: Mapping[str, Mapping[str, Any]] | None = None
) -> RetrievalSources:
    """Fit each named retrieval model (``{name: hyper-parameters}``) on ``data``."""
    chosen = DEFAULT_SOURCES if params is None else params
    models: dict[str, Recommender] = {}
    for name, hyper in chosen.items():
        if name not in MODELS:
            raise ConfigError(f"unknown retrieval model {name!r}; known: {', '.join(MODELS)}")
        logger.info("fitting retrieval model %s", name)
        models[name] = MODELS[name](**dict(hyper)).fit(data)
    return RetrievalSources(models)


def training_rows(
    log: EventArrays,
    user_ids: list[str],
    queries: dict[int, str],
    table: ItemTable,
    since_us: int,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[LoggedRows, FeatureBuilder, RetrievalSources]:
    """Rows of the impressions after ``since_us``, with models and stats from before it."""
    before = subset(log, log.time < since_us)
    fitted = fit_sources(interaction_data(log, user_ids, table, since_us), sources)
    builder = FeatureBuilder(table, ItemStats.from_log(before, table, since_us), fitted.names)
    rows = logged_rows(log, builder, fitted, since_us, queries=queries)
    return rows, builder, fitted


def train_stack(
    log: EventArrays,
    user_ids: list[str],
    queries: dict[int, str],
    table: ItemTable,
    since_us: int,
    ranker: MultiTaskRanker | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> FullStack:
    """The full stack to serve now: the ranker learns from the impressions after
    ``since_us``; the retrieval models and item statistics are then refitted on the
    whole log, as a nightly job would."""
    rows, _, _ = training_rows(log, user_ids, queries, table, since_us, sources)
    model = (ranker or MultiTaskRanker()).fit(
        rows.features, rows.position, rows.click, rows.purchase
    )
    serving = fit_sources(interaction_data(log, user_ids, table), sources)
    builder = FeatureBuilder(table, ItemStats.from_log(log, table), serving.names)
    return FullStack(serving, builder, model)


def ranker_aucs(ranker: MultiTaskRanker, rows: LoggedRows) -> dict[str, float]:
    """CTR AUC (all rows), CVR AUC (clicked rows, purchase label) and CTCVR AUC (all rows,
    purchase label) of ``ranker`` on held-out ``rows``."""
    scores = ranker.predict(rows.features)
    clicked = rows.click > 0
    return {
        "ctr_auc": roc_auc(rows.click, scores.ctr),
        "cvr_auc": roc_auc(rows.purchase[clicked], scores.cvr[clicked]),
        "ctcvr_auc": roc_auc(rows.purchase, scores.ctcvr),
    }
