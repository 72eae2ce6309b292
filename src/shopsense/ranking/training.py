"""Train the default stack: retrieval models chosen on validation, the ranker on feedback.

1. **Retrieval**: every model in ``StackConfig.candidates`` is fitted on the training part
   of a leave-one-out split and scored on the validation step (full ranking; the shopper's
   history stays rankable where the learned re-consumption rule lets it come back). The
   blend starts from the best single model and adds a model (or changes a weight) only
   when validation NDCG@10 rises by ``min_blend_gain`` of it: never by list order, never
   dropping the best model for noise.
2. **Ranker**, once the log holds enough impressions with clicks: rows are built by
   cross-fitting over shoppers (the retrieval models and item statistics that describe a
   shopper's impressions never saw that shopper's events), a share of the shoppers is held
   out to report the ranker against its baselines (:mod:`shopsense.evaluation.feedback`),
   then the ranker is trained on every row.
3. The chosen models (and the item tower, which scores products with no events) are
   refitted on every event; item statistics come from the whole log.

Example::

    >>> from shopsense.dataset import Dataset
    >>> stack = train_stack(Dataset.from_events(events))                 # doctest: +SKIP
    >>> stack.report["retrieval"]["blend"]                               # doctest: +SKIP
    {'als': 1.0, 'repeat': 0.5}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.dataset import Dataset
from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.errors import ConfigError, ModelError
from shopsense.evaluation.feedback import feedback_report, split_by_user
from shopsense.evaluation.offline import exclude_seen, tie_broken_ranks
from shopsense.evaluation.split import leave_one_out, next_event
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData
from shopsense.models import MODELS
from shopsense.models.base import Histories, Recommender
from shopsense.models.hybrid import normalise
from shopsense.ranking.features import EventArrays, FeatureBuilder, ItemStats, ItemTable
from shopsense.ranking.logged import LoggedRows, event_arrays, logged_rows
from shopsense.ranking.ranker import MultiTaskRanker
from shopsense.ranking.repeats import RepeatPolicy
from shopsense.ranking.stack import RetrievalSources, Stack, StackConfig

logger = logging.getLogger(__name__)
Step = Callable[[str], None]
#: The catalog's feature space and features for the item tower, and the text encoder's kind.
TowerFeatures = tuple[Any, ...]
#: Blend weights tried for each model during the coordinate search.
BLEND_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
#: Default hyper-parameters of the candidate models (cheap: every request scores them).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "mult_dae": {"hidden": 200, "epochs": 40},
    "als": {"factors": 64, "iterations": 15},
    "item_tower": {"epochs": 10},
}


def text_encoder(kind: str | None, cache: Path | None = None) -> Any:
    """The ``kind`` of text encoder for the item tower (``None``: no text), its vectors kept
    in ``cache`` when given."""
    if kind is None:
        return None
    from shopsense.features.text import default_encoder

    encoder = default_encoder(kind)
    if cache is None:
        return encoder
    from shopsense.features.embedding_store import StoredEncoder
    from shopsense.search.engine import embedding_store

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


def make_model(
    name: str, params: Mapping[str, Mapping[str, Any]], tower: TowerFeatures | None
) -> Recommender:
    if name not in MODELS:
        raise ConfigError(f"unknown retrieval model {name!r}; known: {', '.join(sorted(MODELS))}")
    hyper = {**DEFAULT_PARAMS.get(name, {}), **dict(params.get(name, {}))}
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
    for name in names:
        logger.info("fitting retrieval model %s", name)
        fitted[name] = make_model(name, params or {}, tower).fit(data)
    return fitted


#: EASE^R is a dense ``n_items x n_items`` inverse: the default stack tries it up to here.
EASE_MAX_ITEMS = 10_000


def usable_candidates(names: Sequence[str], n_items: int) -> list[str]:
    """The candidate models that can run on ``n_items`` products (EASE^R is dense)."""
    return [n for n in names if not (n == "ease" and n_items > EASE_MAX_ITEMS)]


def _validation_ndcg(
    scores: npt.NDArray[np.float32], targets: npt.NDArray[np.int64], seed: int
) -> float:
    """NDCG@10 of one held-out item per row, ties broken at random."""
    rng = np.random.default_rng(seed)
    ranks = tie_broken_ranks(scores, scores[np.arange(targets.size), targets], rng)
    hit = (ranks >= 0) & (ranks < 10)
    return float((1.0 / np.log2(ranks[hit] + 2.0)).sum() / max(targets.size, 1))


def choose_retrieval(
    data: InteractionData,
    names: Sequence[str],
    config: StackConfig,
    repeats: RepeatPolicy,
    table: ItemTable,
    tower: TowerFeatures | None,
    reference: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Blend weights chosen on the validation step, and what each model scored.

    ``reference``: another blend's weights (the served bundle's), scored on the same split
    so a quality gate compares like with like (``reference_ndcg@10``).
    """
    split = next_event(data) if config.validation == "next_event" else leave_one_out(data)
    users = split.users("valid")
    if users.size == 0:
        raise ModelError(
            "too little history to choose retrieval models: no shopper has 3 or more steps"
        )
    rng = np.random.default_rng(config.seed)
    if users.size > config.validation_users:
        users = np.sort(rng.choice(users, config.validation_users, replace=False))
    targets = split.valid_targets[users].indices.astype(np.int64)
    histories = Histories.from_data(split.train, users, fresh=True)
    may_not_repeat = ~repeats.allows_seen[table.leaf]
    cached: dict[str, npt.NDArray[np.float32]] = {}
    single: dict[str, float] = {}
    extra = [n for n in (reference or {}) if n not in names and n in MODELS]
    for name in [*names, *extra]:
        model = make_model(name, config.params, tower).fit(split.train)
        scores = normalise(model.score(histories), "zscore")
        exclude_seen(scores, histories, may_not_repeat)
        cached[name] = scores
        if name in names:
            single[name] = _validation_ndcg(scores, targets, config.seed)
            logger.info("validation NDCG@10 of %s: %.4f", name, single[name])
    best = max(single, key=single.__getitem__)
    weights = dict.fromkeys(names, 0.0)
    weights[best] = 1.0
    current = single[best]
    trace = [{"weights": dict(weights), "ndcg@10": current}]
    for _ in range(2):
        for name in names:
            for value in BLEND_GRID:
                trial = {**weights, name: value}
                if trial == weights or not any(trial.values()):
                    continue
                blend = sum(w * cached[n] for n, w in trial.items() if w)
                assert isinstance(blend, np.ndarray)
                score = _validation_ndcg(blend, targets, config.seed)
                trace.append({"weights": dict(trial), "ndcg@10": score})
                if score > current * (1.0 + config.min_blend_gain):
                    weights, current = trial, score
    chosen = {n: w for n, w in weights.items() if w > 0}
    report: dict[str, Any] = {
        "validation_users": int(users.size),
        "single": single,
        "blend": chosen,
        "blend_ndcg@10": current,
        "tried": len(trace),
    }
    usable = {n: float(w) for n, w in (reference or {}).items() if n in cached and w}
    if usable:
        blend = sum(w * cached[n] for n, w in usable.items())
        assert isinstance(blend, np.ndarray)
        report["reference"] = usable
        report["reference_ndcg@10"] = _validation_ndcg(blend, targets, config.seed)
    return chosen, report


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
    for f in range(config.folds):
        step(f"ranker rows: fold {f + 1} of {config.folds}")
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
    its monotone priors read the blend's z-score and the next-engagement log-probabilities."""
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


def feedback_counts(log: EventArrays) -> tuple[int, int]:
    """``(impressions, clicks on a logged request)`` in the log."""
    impressions = int((log.kind == EventKind.IMPRESSION.value).sum())
    clicks = int(((log.kind == EventKind.CLICK.value) & (log.request >= 0)).sum())
    return impressions, clicks


def train_stack(
    dataset: Dataset,
    config: StackConfig | None = None,
    on_step: Step | None = None,
    text: str | None = None,
    text_cache: Path | None = None,
    reference: Mapping[str, float] | None = None,
) -> Stack:
    """The default stack for ``dataset`` (see the module docstring).

    ``text`` ("static" or "minilm") adds that encoder's embeddings of each product's text
    to the item tower's catalog features (without: category, brand, attributes and price);
    ``text_cache`` keeps them between trainings. ``reference``: the served blend's weights,
    scored on the same validation split for the quality gate.
    """
    config = config or StackConfig()
    step = on_step or logger.info
    table = (
        ItemTable.from_products(dataset.products)
        if dataset.products
        else ItemTable.from_ids(dataset.item_ids())
    )
    log, user_ids, queries = event_arrays(dataset.events, table)
    data = interaction_data(log, user_ids, table)
    if data.n_events == 0:
        raise ModelError("no views, clicks, carts or purchases to train on; add events first")
    tower = None
    names = usable_candidates(config.candidates, len(table))
    if config.item_tower and dataset.products:
        from shopsense.features.item_features import catalog_features

        step(f"building item features from the catalog (text: {text or 'none'})")
        encoder = text_encoder(text, text_cache)
        space, features = catalog_features(list(dataset.products), table.item_ids, encoder)
        if hasattr(encoder, "save"):
            encoder.save()
        tower = (space, features, text or "minilm")
    repeats = RepeatPolicy.learn(log, table, config.repeat_threshold)
    step(f"choosing retrieval models on validation ({', '.join(names)})")
    blend, retrieval = choose_retrieval(data, names, config, repeats, table, tower, reference)
    step(
        "retrieval blend: "
        + ", ".join(f"{n} {w:g}" for n, w in blend.items())
        + f" (validation NDCG@10 {retrieval['blend_ndcg@10']:.4f})"
    )
    serving_names = serving_sources(blend, retrieval["single"], tower is not None)
    impressions, clicks = feedback_counts(log)
    stats = ItemStats.from_log(log, table)
    report: dict[str, Any] = {
        "data": {
            "events": len(log),
            "users": len(user_ids),
            "items": len(table),
            "impressions": impressions,
            "clicks": clicks,
        },
        "retrieval": retrieval,
        "repeats": repeats.summary(table),
    }
    ranker = None
    if impressions >= config.min_impressions and clicks >= config.min_clicks:
        rows = cross_fitted_rows(
            log, user_ids, table, queries, serving_names, config, tower, step, blend
        )
        step(f"ranker: {len(rows)} impressions, {int(rows.click.sum())} clicks; held-out report")
        train_rows, test_rows = split_by_user(rows, 0.2, config.seed)
        probabilistic = tuple(n for n in serving_names if MODELS[n].log_probabilities)
        names = FeatureBuilder(
            table, stats, tuple(serving_names), blend, probabilistic
        ).feature_names
        held_out = fit_ranker(train_rows, config.ranker, names)
        report["ranker"] = feedback_report(train_rows, test_rows, len(table), held_out)
        step("ranker: training on every impression")
        ranker = fit_ranker(rows, config.ranker, names)
    else:
        report["ranker"] = {
            "skipped": f"{impressions} impressions with {clicks} clicks; the ranker needs "
            f"{config.min_impressions} and {config.min_clicks} (the blend serves meanwhile)"
        }
        step(f"no ranker yet: {report['ranker']['skipped']}")
    step("fitting the serving models on every event")
    sources = RetrievalSources(fit_sources(data, serving_names, config.params, tower))
    return Stack(table, sources, blend, stats, repeats, ranker, config, report)
