"""Fitting the stack's parts: retrieval models, cross-fitted ranker rows, the ranker.

The protocol keeps the future out of every feature: a shopper's logged impressions are
described by retrieval models and item statistics fitted on the *other* shoppers
(cross-fitting over folds), so no row is described by a model that saw its outcome. What to
fit is decided by :mod:`shopsense.training` (on validation data).

Example::

    >>> data = interaction_data(log, user_ids, table)                     # doctest: +SKIP
    >>> sources = fit_sources(data, ["popularity", "als"])               # doctest: +SKIP
    >>> rows = cross_fitted_rows(log, user_ids, table, {}, ["als"], config,
    ...                          None, print, {})                        # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense import progress
from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.errors import ConfigError
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData
from shopsense.models import MODELS
from shopsense.models.base import Recommender
from shopsense.ranking.features import FeatureBuilder
from shopsense.ranking.items import EventArrays, ItemStats, ItemTable
from shopsense.ranking.logged import LoggedRows, logged_rows
from shopsense.ranking.ranker import MultiTaskRanker
from shopsense.ranking.sources import RetrievalSources
from shopsense.ranking.stack import StackConfig

logger = logging.getLogger(__name__)
Step = Callable[[str], None]
#: The catalog's feature space and features for the item tower, and the text encoder's kind.
TowerFeatures = tuple[Any, ...]
#: The stack's settings of its candidate models, where they differ from the models' own
#: defaults (those of ``benchmarks/default_study.py``). Every served request scores each
#: model, so ALS keeps 64 factors (its other settings are the study's); Mult-DAE and the
#: item tower train for a fixed number of epochs.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "mult_dae": {"hidden": 200, "epochs": 40},
    "als": {"factors": 64},
    "item_tower": {"epochs": 10},
}
#: The "bought together" co-occurrence model's settings (local and Spark alike).
BOUGHT_TOGETHER: dict[str, Any] = {"similarity": "cooccurrence", "neighbors": 100, "shrink": 0.0}


def text_encoder(kind: str | None, cache: Path | None = None) -> Any:
    """The ``kind`` of text encoder for the item tower (``None``: no text), its vectors kept
    in ``cache`` when given."""
    if kind is None:
        return None
    from shopsense.features.text import default_encoder

    encoder = default_encoder(kind)
    if cache is None:
        return encoder
    from shopsense.features.embedding_store import StoredEncoder, embedding_store

    return StoredEncoder(encoder, embedding_store(cache, encoder))


def interaction_data(
    log: EventArrays,
    user_ids: Sequence[str],
    table: ItemTable,
    keep: npt.NDArray[np.bool_] | None = None,
) -> InteractionData:
    """Weighted engagements (positive event kinds) of ``log``'s rows where ``keep``, items
    in the table's order (every user id keeps its row)."""
    weight_of = {k.value: w for k, w in DEFAULT_EVENT_WEIGHTS.items()}
    weight = np.array([weight_of.get(str(k), 0.0) for k in log.kind], np.float32)
    rows = (weight > 0) & (log.item >= 0)
    if keep is not None:
        rows &= keep
    return InteractionData.from_log(
        IdMap(list(user_ids)),
        IdMap(table.item_ids),
        log.user[rows],
        log.item[rows],
        log.time[rows],
        weight[rows],
    )


def model_params(name: str, params: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Model ``name``'s hyper-parameters: the stack's defaults, overridden by ``params``."""
    return {**DEFAULT_PARAMS.get(name, {}), **dict(params.get(name, {}))}


def make_model(
    name: str, params: Mapping[str, Mapping[str, Any]], tower: TowerFeatures | None
) -> Recommender:
    if name not in MODELS:
        raise ConfigError(f"unknown retrieval model {name!r}; known: {', '.join(sorted(MODELS))}")
    hyper = model_params(name, params)
    if name == "item_tower" and tower is not None and len(tower) > 2:
        hyper.setdefault("text_encoder", tower[2])
    model = MODELS[name](**hyper)
    if name == "item_tower" and tower is not None:
        model.with_item_features(tower[1], tower[0])  # type: ignore[attr-defined]
    return model


def fit_sources(
    data: InteractionData,
    names: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    tower: TowerFeatures | None = None,
) -> dict[str, Recommender]:
    """Each named retrieval model fitted on ``data``."""
    fitted = {}
    for name in progress.track(names, "fitting retrieval models", unit="models"):
        logger.info("fitting retrieval model %s", name)
        fitted[name] = make_model(name, params or {}, tower).fit(data)
    return fitted


#: EASE^R is a dense ``n_items x n_items`` inverse: the default stack tries it up to here.
EASE_MAX_ITEMS = 10_000


def usable_candidates(names: Sequence[str], n_items: int) -> list[str]:
    """The candidate models that can run on ``n_items`` products (EASE^R is dense)."""
    return [n for n in names if not (n == "ease" and n_items > EASE_MAX_ITEMS)]


def serving_sources(
    blend: Mapping[str, float], validated: Mapping[str, float], has_tower: bool
) -> list[str]:
    """The models the stack keeps: the blend's, the best-validated model that scores
    next-engagement log-probabilities (the ranker's prior: comparable across shoppers,
    unlike a blend's per-shopper z-scores), and the item tower when there is a catalog
    (it scores products without events)."""
    names = list(blend)
    probabilistic = [n for n in validated if MODELS[n].log_probabilities]
    if probabilistic:
        best = max(probabilistic, key=lambda n: validated[n])
        if best not in names:
            names.append(best)
    if has_tower and "item_tower" not in names:
        names.append("item_tower")
    return names


def cross_fitted_rows(
    log: EventArrays,
    user_ids: Sequence[str],
    table: ItemTable,
    queries: dict[int, str],
    names: Sequence[str],
    config: StackConfig,
    tower: TowerFeatures | None,
    step: Step,
    blend: Mapping[str, float],
) -> LoggedRows:
    """Ranker rows for every logged impression: each shopper's rows are described by
    retrieval models and item statistics fitted on the other folds' shoppers."""
    rng = np.random.default_rng(config.seed)
    fold = rng.permutation(len(user_ids)) % config.folds
    parts = []
    builder = None
    step(f"ranker rows: cross-fitting over {config.folds} folds of shoppers")
    for f in progress.track(range(config.folds), "ranker rows", unit="folds"):
        others = fold[log.user] != f
        data = interaction_data(log, user_ids, table, keep=others)
        sources = RetrievalSources(fit_sources(data, names, config.params, tower))
        stats = ItemStats.from_log(log.select(others), table)
        builder = FeatureBuilder(table, stats, sources.names, blend, sources.probabilistic)

        def score(states: list[Any], sources: RetrievalSources = sources) -> dict[str, Any]:
            return sources.scores_batch(states, len(table))

        parts.append(logged_rows(log, builder, score, keep_user=fold == f, queries=queries))
    n_features = builder.n_features if builder is not None else 0
    return LoggedRows.concat(parts, n_features)


def fit_ranker(
    rows: LoggedRows, params: Mapping[str, Any], feature_names: Sequence[str]
) -> MultiTaskRanker:
    """The multi-task ranker fitted on ``rows`` (weights, groups and item effects included);
    its monotone priors read the blend's z-score, the next-engagement log-probabilities and
    the click affinity (see :class:`.ranker.MultiTaskRanker`)."""
    return MultiTaskRanker(**dict(params)).fit(
        rows.features,
        rows.position,
        rows.click,
        rows.cart,
        rows.purchase,
        propensity=rows.propensity,
        groups=rows.request,
        items=rows.item,
        feature_names=feature_names,
    )


def reused_choices(
    params: Mapping[str, Any], held_out: MultiTaskRanker, held_out_rows: int
) -> dict[str, Any]:
    """The final ranker's settings: ``params``, plus what the held-out report's ranker
    chose on its own held-out requests (item-effect shrinkage, click residual) when it
    learned from a sample of at most ``max_rows`` impressions. The final ranker then
    learns from as many rows, so a second search would choose on no more evidence: one
    search, not two (about a third of the ranker's time on large logs). On smaller logs
    the final ranker, with a quarter more rows, searches again."""
    if held_out.max_rows is None or held_out_rows <= held_out.max_rows:
        return dict(params)
    return {**params, **held_out.chosen_settings()}


def feedback_counts(log: EventArrays) -> tuple[int, int]:
    """``(impressions, clicks on a logged request)`` in the log."""
    impressions = int((log.kind == EventKind.IMPRESSION.value).sum())
    clicks = int(((log.kind == EventKind.CLICK.value) & (log.request >= 0)).sum())
    return impressions, clicks
