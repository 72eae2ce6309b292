"""Collect -> preprocess -> train -> evaluate -> publish a bundle.

``shopsense train`` (and the server's retraining) trains the default stack on every stored
event and catalog product (:func:`shopsense.training.train_stack`: retrieval models
chosen on validation data, the feedback ranker once there is enough logged feedback, the
item tower for products without events), adds the serving helpers ("trending", "bought
together"), checks the quality gate against the bundle being served, and publishes.

Example::

    >>> from shopsense.config import Settings
    >>> settings = Settings(data_dir="shopsense-data")             # doctest: +SKIP
    >>> result = train(open_store(settings), settings)              # doctest: +SKIP
    >>> result.gate["passed"], result.bundle.manifest["stack"]["blend"]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shopsense import progress
from shopsense.config import Settings
from shopsense.dataset import Dataset
from shopsense.domain import EventKind
from shopsense.errors import ConfigError, ModelError
from shopsense.evaluation.tuning import Budget
from shopsense.features.interactions import InteractionData
from shopsense.models import MODELS, Recommender
from shopsense.ranking.fitting import BOUGHT_TOGETHER
from shopsense.ranking.stack import Stack, StackConfig
from shopsense.recommend.models import STACK
from shopsense.store.artifacts import ArtifactStore, Bundle
from shopsense.store.base import EventBatch
from shopsense.store.sql import SqlStore
from shopsense.training import train_stack

#: Serving helpers trained beside the stack: recency-decayed popularity for "trending" and a
#: co-occurrence model over baskets (sessions) for "bought together".
SERVING_MODELS = ("trending", "bought_together")
#: Where the stack trains: this process, or Spark (:mod:`shopsense.distributed`).
ENGINES = ("local", "spark")
Step = Callable[[str], None]


@dataclass(frozen=True)
class QualityGate:
    """Publish a new bundle only if it is not worse than the one being served, compared
    like with like:

    - **retrieval**: the new blend and the served bundle's blend (its models and weights),
      both fitted on the same training part and scored on the same validation step: the new
      NDCG@10 may be at most ``tolerance`` (relative) below;
    - **ranker**: on the same held-out shoppers' impressions, the new ranker's click
      log-loss may be at most ``tolerance`` above the smoothed per-item click rate's (a
      ranker that cannot beat a per-item rate is not published).

    Without a served bundle the retrieval check passes; without a ranker the ranker check
    passes (the blend serves).

    Example::

        >>> gate = QualityGate(tolerance=0.05)
        >>> gate.check({"retrieval": {"blend_ndcg@10": 0.30, "reference_ndcg@10": 0.31}})["passed"]
        True
        >>> gate.check({"retrieval": {"blend_ndcg@10": 0.20, "reference_ndcg@10": 0.31}})["passed"]
        False
    """

    tolerance: float = 0.05

    def check(self, report: Mapping[str, Any]) -> dict[str, Any]:
        """The verdict as a JSON-able dict: ``passed``, ``reason`` and both comparisons."""
        retrieval = report.get("retrieval", {})
        new, old = retrieval.get("blend_ndcg@10"), retrieval.get("reference_ndcg@10")
        if new is None:
            return {"passed": False, "reason": "no validation NDCG@10 for the new blend"}
        retrieval_ok = old is None or new >= old * (1.0 - self.tolerance)
        reasons = [
            f"retrieval NDCG@10 {new:.4f} vs served {old:.4f} on the same split"
            if old is not None
            else f"retrieval NDCG@10 {new:.4f} (no bundle served yet)"
        ]
        click = report.get("ranker", {}).get("tasks", {}).get("click")
        ranker_ok = True
        if click is not None:
            mine, rate = click["ranker"]["log_loss"], click["item_rate"]["log_loss"]
            ranker_ok = mine <= rate * (1.0 + self.tolerance)
            reasons.append(f"ranker click log-loss {mine:.5f} vs per-item rate {rate:.5f}")
        return {
            "passed": bool(retrieval_ok and ranker_ok),
            "retrieval_passed": bool(retrieval_ok),
            "ranker_passed": bool(ranker_ok),
            "tolerance": self.tolerance,
            "candidate": new,
            "current": old,
            "reason": "; ".join(reasons),
        }


def build_interactions(store: SqlStore, settings: Settings) -> InteractionData:
    """The weighted interaction matrix of every stored event, catalog items included."""
    return InteractionData.from_events(
        store.events.iter_batches(),
        weights=settings.event_weights.weights,
        half_life_days=settings.event_weights.half_life_days,
        items=sorted(store.catalog.ids()),
    )


@dataclass(frozen=True)
class TrainResult:
    bundle: Bundle
    stack: Stack
    #: The quality gate's verdict (``None`` without a gate); a failed bundle is kept unpublished.
    gate: dict[str, Any] | None = None
    #: The bundle that was being served when training began (the gate's reference).
    replaced: Bundle | None = None

    @property
    def published(self) -> bool:
        return self.bundle.published

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        return stack_metrics(self.stack)

    def regression(self) -> str | None:
        """Why the published bundle is worse than the one it replaces (validation NDCG@10
        on the same split, below it by any amount: within the gate's tolerance or
        ungated), or ``None`` when it is not."""
        retrieval = self.stack.report.get("retrieval", {})
        new, old = retrieval.get("blend_ndcg@10"), retrieval.get("reference_ndcg@10")
        if not self.published or self.replaced is None or new is None or old is None:
            return None
        if new >= old:
            return None
        why = (
            f"within the gate's tolerance of {self.gate['tolerance']:.0%}"
            if self.gate is not None
            else "published without the quality gate"
        )
        return (
            f"bundle {self.bundle.id} was published but scores below the bundle it replaces "
            f"({self.replaced.id}): retrieval NDCG@10 {new:.4f} vs {old:.4f} on the same "
            f"validation split, {1 - new / old:.1%} lower ({why}); to serve the older one "
            f"again: POST /admin/models/{self.replaced.id}/activate"
        )


def stack_metrics(stack: Stack) -> dict[str, dict[str, float]]:
    """Validation NDCG@10 of each retrieval model and of the blend."""
    retrieval = stack.report.get("retrieval", {})
    table = {name: {"NDCG@10": v} for name, v in retrieval.get("single", {}).items()}
    if "blend_ndcg@10" in retrieval:
        table["blend"] = {"NDCG@10": retrieval["blend_ndcg@10"]}
    return table


def _fit_serving_models(events: EventBatch, stack: Stack) -> dict[str, Recommender]:
    """Trending and bought-together from the events the stack was trained on (the log is
    read once per training run)."""
    from shopsense.models import ItemKNN, Popularity
    from shopsense.models.popularity import TRENDING_HALF_LIFE_DAYS

    items = stack.table.item_ids
    data = InteractionData.from_events([events], items=items)
    trending = Popularity(half_life_days=TRENDING_HALF_LIFE_DAYS)
    fitted: dict[str, Recommender] = {"trending": trending.fit(data)}
    baskets = InteractionData.from_events(
        [events],
        weights={EventKind.ADD_TO_CART: 1.0, EventKind.PURCHASE: 1.0},
        items=items,
        group_by="session",
    )
    if baskets.n_events:
        fitted["bought_together"] = ItemKNN(**BOUGHT_TOGETHER).fit(baskets)
    return fitted


def stack_config(models: Sequence[str] | None = None) -> StackConfig:
    """The default stack's configuration, trying only ``models`` when given."""
    if not models:
        return StackConfig()
    for name in models:
        if name not in MODELS:
            raise ConfigError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    return StackConfig(candidates=tuple(m for m in models if m != "item_tower"))


def default_text() -> str | None:
    """The item tower's text encoder by default: the static one (fast) when the search extra
    is installed, else none."""
    return "static" if importlib.util.find_spec("model2vec") is not None else None


def train(
    store: SqlStore,
    settings: Settings,
    models: Sequence[str] | None = None,
    on_step: Step | None = None,
    gate: QualityGate | None = None,
    serving: bool = True,
    config: StackConfig | None = None,
    text: str | None = "auto",
    engine: str = "local",
    spark_master: str | None = None,
    tune: Budget | None = None,
) -> TrainResult:
    """Train the default stack on every stored event and publish it as one bundle.

    ``models`` narrows the retrieval models tried (validation still chooses among them);
    ``config`` replaces the whole configuration. With a ``gate`` the bundle is published
    only if it passes against the served bundle (like with like, see
    :class:`QualityGate`); otherwise it is kept, unpublished, for inspection.
    ``serving`` adds the :data:`SERVING_MODELS`; ``text`` is the encoder of the item
    tower's text embeddings ("static", "minilm", "minilm-int8", ``None`` for none; "auto":
    static when the search extra is installed), cached under ``DATA_DIR/features/embeddings``.

    ``engine="spark"`` trains on Spark (``spark_master``, default ``local[*]``) from the
    events exported (incrementally) to ``DATA_DIR/export``: see
    :mod:`shopsense.distributed.train` for what it trains; the bundle, the gate and the
    serving helpers are the same. ``tune``: the local engine first searches each
    retrieval candidate's hyper-parameters on validation within this budget per model.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    step = on_step or progress.note
    artifacts = ArtifactStore(settings.artifacts_dir)
    current = artifacts.latest()
    reference = (current.manifest.get("stack") or {}).get("blend") if current else None
    began = time.perf_counter()
    extras: dict[str, Recommender] | None = None
    events: EventBatch | None = None
    if engine == "spark":
        stack, extras = _train_on_spark(
            store, settings, models, config, spark_master, step, reference
        )
    else:
        chosen = config or stack_config(models)
        step("reading the events and the catalog")
        dataset = Dataset.from_store(store)
        if len(dataset) == 0:
            raise ModelError("no events to train on; ingest events first")
        events = dataset.events
        stack = train_stack(
            dataset,
            chosen,
            on_step=step,
            text=default_text() if text == "auto" else text,
            text_cache=settings.data_dir / "features" / "embeddings",
            reference=reference,
            tune=tune,
        )
    seconds = time.perf_counter() - began
    manifest: dict[str, Any] = {
        "models": [STACK],
        "primary": STACK,
        "stack": _summary(stack),
        "data": stack.report.get("data", {}),
        "train_seconds": {STACK: seconds},
        "engine": engine,
        "event_weights": {k.value: w for k, w in settings.event_weights.weights.items()},
    }
    manifest["metrics"] = stack_metrics(stack)
    verdict = None
    if gate is not None:
        verdict = gate.check(stack.report)
        manifest["gate"] = verdict
        step(f"quality gate: {'passed' if verdict['passed'] else 'FAILED'} ({verdict['reason']})")
    with artifacts.build(manifest, publish=verdict is None or verdict["passed"]) as bundle:
        stack.save(bundle.path / STACK, precision=settings.bundle_precision)
        if serving:
            step("training the serving helpers (trending, bought together)")
            if extras is None:
                assert events is not None  # the local engine read them
                extras = _fit_serving_models(events, stack)
            for name, model in extras.items():
                model.save(
                    bundle.path / name, training_log=False, precision=settings.bundle_precision
                )
            bundle.manifest["serving_models"] = sorted(extras)
    # The staged bundle was renamed into place: return the finished one.
    finished = next(b for b in artifacts.list() if b.id == bundle.id)
    return TrainResult(finished, stack, verdict, current)


def _train_on_spark(
    store: SqlStore,
    settings: Settings,
    models: Sequence[str] | None,
    config: StackConfig | None,
    master: str | None,
    step: Step,
    reference: Mapping[str, float] | None,
) -> tuple[Stack, dict[str, Recommender]]:
    """Export what changed since the last export, then train on Spark."""
    from shopsense.distributed.session import DEFAULT_MASTER
    from shopsense.distributed.train import SPARK_MODELS, train_on_spark
    from shopsense.ranking.items import ItemTable
    from shopsense.store.export import export_events

    unknown = [m for m in models or () if m not in SPARK_MODELS]
    if unknown:
        raise ConfigError(
            f"the Spark engine trains {', '.join(SPARK_MODELS)}; not {', '.join(unknown)}"
        )
    out = settings.data_dir / "export"
    step(f"exporting new events to {out / 'events'} (Parquet, by day)")
    exported = export_events(store.events, out)
    if not exported.written and not exported.unchanged:
        raise ModelError("no events to train on; ingest events first")
    products = [p for batch in store.catalog.iter_products() for p in batch]
    if not products:
        raise ModelError("the Spark engine needs the catalog: ingest products first")
    chosen = config or StackConfig(candidates=tuple(models or SPARK_MODELS), item_tower=False)
    master = master or DEFAULT_MASTER
    trained = train_on_spark(
        out / "events", ItemTable.from_products(products), chosen, master, step, reference
    )
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("tantivy"):
        from shopsense.distributed.embed import embed_catalog
        from shopsense.distributed.session import spark_session

        step(f"Spark: embedding the catalog for search ({settings.search_encoder})")
        total, encoded = embed_catalog(
            spark_session(master), products, settings.search_embeddings_dir, settings.search_encoder
        )
        step(f"search vectors: {encoded} encoded on Spark, {total - encoded} already stored")
    return trained


def _summary(stack: Stack) -> dict[str, Any]:
    """What the manifest (and /admin/models, the dashboard) says about a stack."""
    report = stack.report
    retrieval = report.get("retrieval", {})
    ranker = report.get("ranker", {})
    summary: dict[str, Any] = {
        "sources": list(stack.sources.names),
        "blend": stack.blend,
        "validation_ndcg@10": retrieval.get("blend_ndcg@10"),
        "strategy": stack.strategy,
        "objective": stack.config.objective,
    }
    if "tuned" in retrieval:  # train --tune: what was found, and its validation NDCG@10
        summary["tuned"] = {
            name: {"params": found["params"], "valid_ndcg@10": found["valid_ndcg@10"]}
            for name, found in retrieval["tuned"].items()
        }
    click = ranker.get("tasks", {}).get("click")
    if click is not None:
        summary["ranker"] = {
            model: {k: click[model][k] for k in ("auc", "log_loss", "ece")}
            for model in ("ranker", "item_rate", "logistic")
        }
    elif "skipped" in ranker:
        summary["ranker"] = {"skipped": ranker["skipped"]}
    return summary


def latest_bundle(settings: Settings) -> Bundle:
    bundle = ArtifactStore(settings.artifacts_dir).latest()
    if bundle is None:
        raise ModelError(f"no trained models in {settings.data_dir}; run `shopsense train` first")
    return bundle
