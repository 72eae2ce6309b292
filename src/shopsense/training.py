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
   then the ranker is trained on every row (on large logs, with the settings the report's
   ranker chose: :func:`~shopsense.ranking.fitting.reused_choices`).
3. The chosen models (and the item tower, which scores products with no events) are
   refitted on every event; item statistics come from the whole log.

Example::

    >>> from shopsense.dataset import Dataset
    >>> stack = train_stack(Dataset.from_events(events))                 # doctest: +SKIP
    >>> stack.report["retrieval"]["blend"]                               # doctest: +SKIP
    {'als': 1.0, 'repeat': 0.5}
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense import progress
from shopsense.dataset import Dataset
from shopsense.errors import ModelError
from shopsense.evaluation.feedback import feedback_report, split_by_user
from shopsense.evaluation.offline import exclude_seen
from shopsense.evaluation.split import leave_one_out, next_event
from shopsense.evaluation.tuning import Budget, tunable, tune_model
from shopsense.features.interactions import InteractionData
from shopsense.metrics import single_target_metrics, target_ranks
from shopsense.models import MODELS
from shopsense.models.base import Histories, Recommender
from shopsense.models.hybrid import normalise
from shopsense.ranking.features import FeatureBuilder
from shopsense.ranking.fitting import (
    Step,
    TowerFeatures,
    cross_fitted_rows,
    feedback_counts,
    fit_ranker,
    fit_sources,
    interaction_data,
    make_model,
    model_params,
    reused_choices,
    serving_sources,
    text_encoder,
    usable_candidates,
)
from shopsense.ranking.items import ItemStats, ItemTable
from shopsense.ranking.logged import event_arrays
from shopsense.ranking.repeats import RepeatPolicy
from shopsense.ranking.sources import RetrievalSources
from shopsense.ranking.stack import Stack, StackConfig

logger = logging.getLogger(__name__)
#: Blend weights tried for each model during the coordinate search.
BLEND_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def validation_ndcg(
    scores: npt.NDArray[np.float32], targets: npt.NDArray[np.int64], seed: int
) -> float:
    """NDCG@10 of one held-out item per row, ties broken at random (the same draws for
    every blend scored on one seed)."""
    ranks = target_ranks(scores, targets, np.random.default_rng(seed))
    return single_target_metrics(ranks, ks=(10,)).get("NDCG@10", 0.0)


def choose_retrieval(
    data: InteractionData,
    names: Sequence[str],
    config: StackConfig,
    repeats: RepeatPolicy,
    table: ItemTable,
    tower: TowerFeatures | None,
    reference: Mapping[str, float] | None = None,
    tune: Budget | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Blend weights chosen on the validation step, and what each model scored.

    ``reference``: another blend's weights (the served bundle's), scored on the same split
    so a quality gate compares like with like (``reference_ndcg@10``). ``tune``: each
    candidate's hyper-parameters are first searched within this budget on the same
    validation step (:func:`~shopsense.evaluation.tuning.tune_model`); the report's
    ``tuned`` holds what was found, ``params`` every candidate's settings.
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
    params = {name: model_params(name, config.params) for name in names}
    tuned: dict[str, Any] = {}

    def validation_scores(model: Recommender) -> npt.NDArray[np.float32]:
        scores = normalise(model.fit(split.train).score(histories), "zscore")
        exclude_seen(scores, histories, may_not_repeat)
        return scores

    for name in filter(tunable, names):
        if tune is None:
            break
        progress.note(
            f"tuning {name} on validation ({tune.trials or f'{tune.seconds:g} s'} per model)"
        )
        found = tune_model(
            name,
            tune,
            lambda **p: make_model(name, {name: p}, tower),  # noqa: B023 (used at once)
            lambda m: validation_ndcg(validation_scores(m), targets, config.seed),
            params[name],
            config.seed,
        )
        params[name] = found.params
        tuned[name] = found.as_json()
    for name in progress.track([*names, *extra], "validating retrieval models", unit="models"):
        model = make_model(name, params if name in params else config.params, tower)
        scores = validation_scores(model)
        cached[name] = scores
        if name in names:
            single[name] = validation_ndcg(scores, targets, config.seed)
            logger.info("validation NDCG@10 of %s: %.4f", name, single[name])
    chosen, report = blend_on_validation(cached, single, targets, config, reference)
    report = {"validation_users": int(users.size), **report, "params": params}
    if tuned:
        report["tuned"] = tuned
    return chosen, report


def blend_line(blend: Mapping[str, float], retrieval: Mapping[str, Any]) -> str:
    """The chosen blend as a progress line: its models, weights and validation NDCG@10."""
    weights = ", ".join(f"{n} {w:g}" for n, w in blend.items())
    return f"retrieval blend: {weights} (validation NDCG@10 {retrieval['blend_ndcg@10']:.4f})"


def blend_on_validation(
    cached: Mapping[str, npt.NDArray[np.float32]],
    single: Mapping[str, float],
    targets: npt.NDArray[np.int64],
    config: StackConfig,
    reference: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The blend of the models in ``single`` (their validation NDCG@10) from their
    normalised validation ``cached`` scores: the best single model, then a coordinate search
    over :data:`BLEND_GRID` that keeps a change only when NDCG@10 rises by
    ``config.min_blend_gain`` of it. ``reference`` (the served blend) is scored too."""
    names = list(single)
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
                score = validation_ndcg(blend, targets, config.seed)
                trace.append({"weights": dict(trial), "ndcg@10": score})
                if score > current * (1.0 + config.min_blend_gain):
                    weights, current = trial, score
    chosen = {n: w for n, w in weights.items() if w > 0}
    report: dict[str, Any] = {
        "single": dict(single),
        "blend": chosen,
        "blend_ndcg@10": current,
        "tried": len(trace),
    }
    usable = {n: float(w) for n, w in (reference or {}).items() if n in cached and w}
    if usable:
        blend = sum(w * cached[n] for n, w in usable.items())
        assert isinstance(blend, np.ndarray)
        report["reference"] = usable
        report["reference_ndcg@10"] = validation_ndcg(blend, targets, config.seed)
    return chosen, report


def train_stack(
    dataset: Dataset,
    config: StackConfig | None = None,
    on_step: Step | None = None,
    text: str | None = None,
    text_cache: Path | None = None,
    reference: Mapping[str, float] | None = None,
    tune: Budget | None = None,
) -> Stack:
    """The default stack for ``dataset`` (see the module docstring).

    ``text`` ("static" or "minilm") adds that encoder's embeddings of each product's text
    to the item tower's catalog features (without: category, brand, attributes and price);
    ``text_cache`` keeps them between trainings. ``reference``: the served blend's weights,
    scored on the same validation split for the quality gate. ``tune``: the retrieval
    candidates' hyper-parameters are searched on validation first, within this budget per
    model; the stack is trained with what was found (its config's ``params``).
    """
    config = config or StackConfig()
    step = on_step or progress.note
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
    blend, retrieval = choose_retrieval(data, names, config, repeats, table, tower, reference, tune)
    if tune is not None:  # the stack trains with the settings tuning found
        config = dataclasses.replace(config, params={**config.params, **retrieval["params"]})
    step(blend_line(blend, retrieval))
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
        ranker = fit_ranker(rows, reused_choices(config.ranker, held_out, len(train_rows)), names)
        report["ranker"]["selection"] = {**held_out.selection_, "final": ranker.selection_}
    else:
        report["ranker"] = {
            "skipped": f"{impressions} impressions with {clicks} clicks; the ranker needs "
            f"{config.min_impressions} and {config.min_clicks} (the blend serves meanwhile)"
        }
        step(f"no ranker yet: {report['ranker']['skipped']}")
    step("fitting the serving models on every event")
    sources = RetrievalSources(fit_sources(data, serving_names, config.params, tower))
    return Stack(table, sources, blend, stats, repeats, ranker, config, report)
