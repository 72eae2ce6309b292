"""Collect -> preprocess -> train -> evaluate -> publish a bundle.

Example::

    >>> from shopsense.config import Settings
    >>> settings = Settings(data_dir="shopsense-data")             # doctest: +SKIP
    >>> bundle = train(open_store(settings), settings)              # doctest: +SKIP
    >>> bundle.manifest["metrics"]["als"]["NDCG@10"]                # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shopsense.config import Settings
from shopsense.errors import ConfigError, ModelError
from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import leave_one_out
from shopsense.features.interactions import InteractionData
from shopsense.models import MODELS, Recommender, load_model
from shopsense.store.artifacts import ArtifactStore, Bundle
from shopsense.store.sql import SqlStore

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("popularity", "als")
Step = Callable[[str], None]


def build_interactions(store: SqlStore, settings: Settings) -> InteractionData:
    """The weighted interaction matrix of every stored event, catalog items included."""
    return InteractionData.from_events(
        store.events.iter_batches(),
        weights=settings.event_weights.weights,
        half_life_days=settings.event_weights.half_life_days,
        items=sorted(store.catalog.ids()),
    )


def make_model(name: str) -> Recommender:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return MODELS[name]()


@dataclass(frozen=True)
class TrainResult:
    bundle: Bundle
    metrics: dict[str, dict[str, float]]


def train(
    store: SqlStore,
    settings: Settings,
    models: Sequence[str] = DEFAULT_MODELS,
    evaluate_first: bool = True,
    on_step: Step | None = None,
) -> TrainResult:
    """Train ``models`` on all stored events and publish them as one bundle.

    With ``evaluate_first``, each model is first scored offline (leave-last-out, full
    ranking) and the metrics go into the bundle's manifest.
    """
    step = on_step or (lambda message: log.info(message))
    for name in models:
        make_model(name)
    step("building the interaction matrix")
    data = build_interactions(store, settings)
    if data.n_users == 0:
        raise ModelError("no events with items to train on; ingest events first")
    metrics: dict[str, dict[str, float]] = {}
    if evaluate_first:
        split = leave_one_out(data)
        for name in models:
            step(f"evaluating {name} (leave-one-out, full ranking)")
            metrics[name] = evaluate(make_model(name), split, stage="test")
    manifest: dict[str, Any] = {
        "models": list(models),
        "metrics": metrics,
        "data": {"users": data.n_users, "items": data.n_items, "events": data.n_events},
        "event_weights": {k.value: w for k, w in settings.event_weights.weights.items()},
    }
    artifacts = ArtifactStore(settings.artifacts_dir)
    with artifacts.build(manifest) as bundle:
        for name in models:
            step(f"training {name} on all events")
            started = time.perf_counter()
            model = make_model(name).fit(data)
            model.save(bundle.path / name)
            bundle.manifest.setdefault("train_seconds", {})[name] = time.perf_counter() - started
    published = artifacts.latest()
    assert published is not None
    return TrainResult(published, metrics)


def load_models(bundle: Bundle) -> dict[str, Recommender]:
    """Every model saved in ``bundle``, by name."""
    return {name: load_model(bundle.path / name) for name in bundle.manifest["models"]}


def latest_bundle(settings: Settings) -> Bundle:
    bundle = ArtifactStore(settings.artifacts_dir).latest()
    if bundle is None:
        raise ModelError(f"no trained models in {settings.data_dir}; run `shopsense train` first")
    return bundle
