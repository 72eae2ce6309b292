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
from typing import TYPE_CHECKING, Any

from shopsense.config import Settings
from shopsense.domain import EventKind
from shopsense.errors import ConfigError, ModelError
from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import leave_one_out
from shopsense.features.interactions import InteractionData
from shopsense.features.item_features import ItemFeatures, ItemFeatureSpace
from shopsense.models import MODELS, ItemTower, Recommender, load_model
from shopsense.store.artifacts import ArtifactStore, Bundle
from shopsense.store.sql import SqlStore

if TYPE_CHECKING:
    from shopsense.features.text import TextEncoder

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("popularity", "als")
#: Serving helpers trained beside the evaluated models: recency-decayed popularity for
#: "trending" and a co-occurrence model over baskets (sessions) for "bought together".
SERVING_MODELS = ("trending", "bought_together")
Step = Callable[[str], None]
TowerFeatures = tuple[ItemFeatureSpace, ItemFeatures]


@dataclass(frozen=True)
class QualityGate:
    """Publish a new bundle only if it is not worse than the current one.

    The candidate's ``metric`` for its primary model may be at most ``tolerance`` (relative)
    below the published bundle's; without a published bundle every candidate passes.

    Example::

        >>> gate = QualityGate(metric="NDCG@10", tolerance=0.05)
        >>> gate.check({"als": {"NDCG@10": 0.10}}, "als", {"als": {"NDCG@10": 0.104}})["passed"]
        True
        >>> gate.check({"als": {"NDCG@10": 0.05}}, "als", {"als": {"NDCG@10": 0.10}})["passed"]
        False
    """

    metric: str = "NDCG@10"
    tolerance: float = 0.05

    def check(
        self,
        candidate: dict[str, dict[str, float]],
        primary: str,
        current: dict[str, dict[str, float]] | None,
    ) -> dict[str, Any]:
        """The verdict as a JSON-able dict with ``passed`` and the two figures."""
        new = candidate.get(primary, {}).get(self.metric)
        old = (current or {}).get(primary, {}).get(self.metric)
        verdict: dict[str, Any] = {
            "metric": self.metric,
            "model": primary,
            "candidate": new,
            "current": old,
            "tolerance": self.tolerance,
        }
        if new is None:
            return {**verdict, "passed": False, "reason": f"no {self.metric} for {primary}"}
        if old is None:
            return {**verdict, "passed": True, "reason": "no published bundle to compare with"}
        passed = new >= old * (1.0 - self.tolerance)
        reason = f"{self.metric} {new:.4f} vs {old:.4f} (allowed drop {self.tolerance:.0%})"
        return {**verdict, "passed": passed, "reason": reason}


def primary_model(models: Sequence[str]) -> str:
    """The model that answers "for you": the first one that is not plain popularity."""
    return next((m for m in models if m != "popularity"), models[0])


def build_interactions(store: SqlStore, settings: Settings) -> InteractionData:
    """The weighted interaction matrix of every stored event, catalog items included."""
    return InteractionData.from_events(
        store.events.iter_batches(),
        weights=settings.event_weights.weights,
        half_life_days=settings.event_weights.half_life_days,
        items=sorted(store.catalog.ids()),
    )


def make_model(name: str, item_features: TowerFeatures | None = None) -> Recommender:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    model = MODELS[name]()
    if item_features is not None and isinstance(model, ItemTower):
        model.with_item_features(item_features[1], item_features[0])
    return model


def item_tower_features(store: SqlStore, data: InteractionData) -> TowerFeatures:
    """The catalog's item features in ``data``'s item order, for the item tower.

    Text embeddings come from the packaged encoder when the search extra is installed;
    without it the tower uses the category / brand / attribute / price tokens alone.
    """
    from shopsense.features.item_features import catalog_features
    from shopsense.features.text import default_encoder, model_path

    products = [p for batch in store.catalog.iter_products() for p in batch]
    try:
        model_path()
        encoder: TextEncoder | None = default_encoder()
    except ConfigError as exc:
        log.warning("item_tower without text embeddings: %s", exc)
        encoder = None
    return catalog_features(products, data.items.to_list(), encoder)


@dataclass(frozen=True)
class TrainResult:
    bundle: Bundle
    metrics: dict[str, dict[str, float]]
    #: The quality gate's verdict (``None`` without a gate); a failed bundle is kept unpublished.
    gate: dict[str, Any] | None = None

    @property
    def published(self) -> bool:
        return self.bundle.published


def _fit_serving_models(
    store: SqlStore, settings: Settings, data: InteractionData
) -> dict[str, Recommender]:
    from shopsense.models import ItemKNN, Popularity

    fitted: dict[str, Recommender] = {"trending": Popularity(half_life_days=7.0).fit(data)}
    baskets = InteractionData.from_events(
        store.events.iter_batches(),
        weights={EventKind.ADD_TO_CART: 1.0, EventKind.PURCHASE: 1.0},
        items=data.items.to_list(),
        group_by="session",
    )
    if baskets.n_events:
        fitted["bought_together"] = ItemKNN(similarity="cooccurrence").fit(baskets)
    return fitted


def train(
    store: SqlStore,
    settings: Settings,
    models: Sequence[str] = DEFAULT_MODELS,
    evaluate_first: bool = True,
    on_step: Step | None = None,
    gate: QualityGate | None = None,
    serving: bool = True,
) -> TrainResult:
    """Train ``models`` on all stored events and publish them as one bundle.

    With ``evaluate_first``, each model is first scored offline (leave-last-out, full
    ranking) and the metrics go into the bundle's manifest. With a ``gate`` the bundle is
    published only if its metrics pass it against the current published bundle; otherwise
    it is kept, unpublished, for inspection. ``serving`` adds the :data:`SERVING_MODELS`.
    """
    step = on_step or (lambda message: log.info(message))
    if gate is not None and not evaluate_first:
        raise ConfigError("a quality gate needs evaluate_first=True (it compares metrics)")
    for name in models:
        make_model(name)
    step("building the interaction matrix")
    data = build_interactions(store, settings)
    if data.n_users == 0:
        raise ModelError("no events with items to train on; ingest events first")
    features = None
    if "item_tower" in models:
        step("building item features from the catalog")
        features = item_tower_features(store, data)
    metrics: dict[str, dict[str, float]] = {}
    if evaluate_first:
        split = leave_one_out(data)
        for name in models:
            step(f"evaluating {name} (leave-one-out, full ranking)")
            metrics[name] = evaluate(make_model(name, features), split, stage="test")
    manifest: dict[str, Any] = {
        "models": list(models),
        "metrics": metrics,
        "data": {"users": data.n_users, "items": data.n_items, "events": data.n_events},
        "event_weights": {k.value: w for k, w in settings.event_weights.weights.items()},
        "primary": primary_model(models),
    }
    artifacts = ArtifactStore(settings.artifacts_dir)
    verdict = None
    if gate is not None:
        current = artifacts.latest()
        current_metrics = current.manifest.get("metrics") if current is not None else None
        verdict = gate.check(metrics, primary_model(models), current_metrics)
        manifest["gate"] = verdict
        step(f"quality gate: {'passed' if verdict['passed'] else 'FAILED'} ({verdict['reason']})")
    with artifacts.build(manifest, publish=verdict is None or verdict["passed"]) as bundle:
        for name in models:
            step(f"training {name} on all events")
            started = time.perf_counter()
            model = make_model(name, features).fit(data)
            model.save(bundle.path / name)
            bundle.manifest.setdefault("train_seconds", {})[name] = time.perf_counter() - started
        if serving:
            step("training the serving models (trending, bought together)")
            extras = _fit_serving_models(store, settings, data)
            for name, model in extras.items():
                model.save(bundle.path / name)
            bundle.manifest["serving_models"] = sorted(extras)
    # The staged bundle was renamed into place: return the finished one.
    finished = next(b for b in artifacts.list() if b.id == bundle.id)
    return TrainResult(finished, metrics, verdict)


def load_models(
    bundle: Bundle, between: Callable[[], object] | None = None
) -> dict[str, Recommender]:
    """Every model saved in ``bundle`` (serving helpers included), by name.

    ``between`` runs after each model (a server passes a short sleep, so loading in the
    background leaves the CPU to requests in between).
    """
    names = [*bundle.manifest["models"], *bundle.manifest.get("serving_models", [])]
    models = {}
    for name in names:
        models[name] = load_model(bundle.path / name)
        if between is not None:
            between()
    return models


def latest_bundle(settings: Settings) -> Bundle:
    bundle = ArtifactStore(settings.artifacts_dir).latest()
    if bundle is None:
        raise ModelError(f"no trained models in {settings.data_dir}; run `shopsense train` first")
    return bundle
