"""Run several models through one protocol on one dataset: what ``shopsense evaluate`` does.

Example::

    >>> report = run_evaluation("s3rec", Path("Beauty.txt"), ["als"])  # doctest: +SKIP
    >>> report.results["als"]["NDCG@10"]                               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shopsense import progress
from shopsense.domain import Product
from shopsense.errors import ConfigError
from shopsense.evaluation.embedding_map import EmbeddingMap, embedding_map, popularity_labels
from shopsense.evaluation.offline import Stage, evaluate
from shopsense.evaluation.split import Split, leave_one_out, temporal_split
from shopsense.evaluation.tuning import (
    Budget,
    tunable,
    tune_model,
    tune_weights,
    validation_score,
)
from shopsense.features.interactions import InteractionData
from shopsense.models import MODELS, Recommender

log = logging.getLogger(__name__)

Protocol = Literal["leave-one-out", "temporal"]
SEQUENCE_FORMATS = ("s3rec", "sasrec", "unisrec")


@dataclass
class EvaluationReport:
    dataset: str
    protocol: str
    stage: str
    stats: dict[str, int]
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per tuned model: the budget, the best settings, their validation NDCG@10, every trial.
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per model that embeds items: its item-embedding map (when asked for, see ``maps``).
    maps: dict[str, EmbeddingMap] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "protocol": self.protocol,
            "stage": self.stage,
            "stats": self.stats,
            "results": self.results,
            "params": self.params,
            "tuning": self.tuning,
            "embedding_maps": {name: m.summary() for name, m in self.maps.items()},
        }


def load_interactions(format: str, path: Path) -> tuple[str, InteractionData]:
    """A dataset's interactions: sequence formats directly, event formats through events."""
    from shopsense.ingest.datasets import read_dataset, read_sequences

    if format in SEQUENCE_FORMATS:
        sequences = read_sequences(format, path)
        name = path.stem if path.is_file() else path.name
        return name, InteractionData.from_sequences(sequences)
    dataset = read_dataset(format, path)
    from shopsense.store import InMemoryStore

    store = InMemoryStore()
    store.events.append(list(dataset.events))
    return dataset.name, InteractionData.from_events(store.events.iter_batches())


def item_labels(format: str, path: Path) -> dict[str, str] | None:
    """Each product's top category, for the formats that come with a catalog (``None`` for
    sequence formats, which have none: maps are then coloured by popularity)."""
    if format in SEQUENCE_FORMATS:
        return None
    from shopsense.ingest.datasets import read_dataset

    return category_labels(read_dataset(format, path).products)


def category_labels(products: Iterable[Product]) -> dict[str, str] | None:
    """Product id -> top category of the products that have one (``None`` when none has):
    the colours of an item-embedding map."""
    labels = {p.id: p.category[0] for p in products if p.category}
    return labels or None


def item_map(
    name: str, model: Recommender, labels: Mapping[str, str] | None, tsne: bool = True
) -> EmbeddingMap | None:
    """The model's item-embedding map (``None`` for a model without item vectors), coloured
    by ``labels`` (product id -> top category) or, without them, by popularity."""
    vectors = model.item_embeddings()
    if vectors is None:
        return None
    ids = model.items_.to_list()
    if labels:
        named = [labels.get(i, "") for i in ids]
        return embedding_map(name, vectors, ids, named, "top category", tsne=tsne)
    bands = popularity_labels(model.item_popularity_)
    return embedding_map(name, vectors, ids, bands, "popularity", tsne=tsne)


def make_split(data: InteractionData, protocol: str) -> Split:
    if protocol == "leave-one-out":
        return leave_one_out(data)
    if protocol == "temporal":
        return temporal_split(data)
    raise ConfigError(f"unknown protocol {protocol!r}; use leave-one-out or temporal")


def build_model(name: str, params: Mapping[str, Any] | None = None) -> Recommender:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name](**dict(params or {}))
    except TypeError as exc:
        raise ConfigError(f"bad parameters for {name}: {exc}") from exc


#: What the hybrid chooses among on the validation stage when it is given no weights.
HYBRID_CANDIDATES = ("transition", "item_knn", "als", "ease")
#: EASE^R is dense (``n_items²`` floats, about 3 GB at 20,000 items): tried up to here.
HYBRID_EASE_MAX_ITEMS = 20_000


def choose_hybrid(
    split: Split, params: Mapping[str, Mapping[str, Any]], seed: int = 0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hybrid's settings when ``params["hybrid"]`` gives no ``weights``: its candidate
    components (``components``, default :data:`HYBRID_CANDIDATES`, each with its own
    ``params``) are fitted on ``split.train`` and blended by
    :func:`~shopsense.evaluation.tuning.tune_weights` on the validation targets, which
    starts from the best single component: the hybrid never scores below its best
    component on validation. Returns the hybrid's settings and what decided them (empty
    when the weights were given, or the protocol has several targets per shopper)."""
    given = dict(params.get("hybrid") or {})
    if "weights" in given or split.protocol != "leave-one-out":
        return given, {}
    began = time.perf_counter()
    offered = given.get("components") or {n: dict(params.get(n) or {}) for n in HYBRID_CANDIDATES}
    names = [
        n for n in offered if not (n == "ease" and split.train.n_items > HYBRID_EASE_MAX_ITEMS)
    ]
    models = {n: build_model(n, offered[n]).fit(split.train) for n in names}
    weights, trace = tune_weights(models, split, seed=seed)
    chosen = {n: w for n, w in weights.items() if w > 0}
    settings = {**given, "components": {n: offered[n] for n in chosen}, "weights": chosen}
    report = {
        "params": {"weights": chosen},
        "valid_ndcg@10": max(score for _, score in trace),
        "trials": [{"weights": w, "valid_ndcg@10": score} for w, score in trace],
        "seconds": round(time.perf_counter() - began, 1),
        "candidates": names,
    }
    return settings, report


def run_evaluation(
    format: str,
    path: Path,
    models: Sequence[str],
    *,
    protocol: str = "leave-one-out",
    stage: Stage = "test",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    ks: Sequence[int] = (5, 10, 20),
    on_model: Callable[[str], None] | None = None,
    tune: Budget | None = None,
    maps: bool = False,
) -> EvaluationReport:
    """Evaluate ``models`` (names from the registry) on one dataset and protocol; with
    ``tune``, each tunable model's settings are searched on validation first; with
    ``maps``, every model that embeds items also gets its item-embedding map."""
    for name in models:
        build_model(name, (params or {}).get(name))
    name, data = load_interactions(format, path)
    return evaluate_data(
        name,
        data,
        models,
        protocol=protocol,
        stage=stage,
        params=params,
        ks=ks,
        on_model=on_model,
        tune=tune,
        maps=maps,
        item_labels=item_labels(format, path) if maps else None,
    )


def evaluate_data(
    name: str,
    data: InteractionData,
    models: Sequence[str],
    *,
    protocol: str = "leave-one-out",
    stage: Stage = "test",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    ks: Sequence[int] = (5, 10, 20),
    on_model: Callable[[str], None] | None = None,
    tune: Budget | None = None,
    maps: bool = False,
    item_labels: Mapping[str, str] | None = None,
) -> EvaluationReport:
    """Evaluate ``models`` on interactions already loaded (a dataset or the shop's store).

    ``maps``: each model that embeds items gets its item-embedding map (of the model as
    evaluated), coloured by ``item_labels`` (product id -> top category) or by popularity.

    ``tune``: each model :data:`~shopsense.evaluation.tuning.SPACES` covers is first tuned
    on the validation stage with this budget (the same for every model, seeded), then
    evaluated at ``stage`` with the best settings (``params`` are the starting point). The
    hybrid is evaluated last; its candidate parts tuned in the same run keep those settings.
    """
    split = make_split(data, protocol)
    report = EvaluationReport(
        dataset=name,
        protocol=split.protocol,
        stage=stage,
        stats={"users": data.n_users, "items": data.n_items, "interactions": data.n_events},
    )
    found: dict[str, dict[str, Any]] = {}  # what tuning chose, for the hybrid's parts
    # The hybrid goes last: with --tune its candidate parts use what tuning found for them.
    ordered = sorted(models, key=lambda m: m == "hybrid")
    for model_name in progress.track(ordered, f"evaluating on {name}", unit="models"):
        if on_model:
            on_model(model_name)
        chosen = dict((params or {}).get(model_name) or {})
        if model_name == "hybrid":
            chosen, decided = choose_hybrid(split, {**(params or {}), **found})
            if decided:
                report.tuning[model_name] = decided
        elif tune is not None and tunable(model_name):
            score = validation_score(split)
            tuned = tune_model(model_name, tune, MODELS[model_name], score, chosen)
            report.tuning[model_name] = {"budget": dataclasses.asdict(tune)} | tuned.as_json()
            chosen = found[model_name] = tuned.params
        model = build_model(model_name, chosen)
        report.results[model_name] = evaluate(model, split, stage, ks)
        report.params[model_name] = model.get_params()
        drawn = item_map(model_name, model, item_labels) if maps else None
        if drawn is not None:
            report.maps[model_name] = drawn
        log.info("%s: %s", model_name, report.results[model_name])
    return report
