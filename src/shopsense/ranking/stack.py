"""The default stack: retrieval models -> candidates -> the feedback ranker -> a list.

Each retrieval model scores every item for the shopper's current history (fresh events
included, so a click a second ago changes the next list). The candidates are the union of
each model's top ``per_source`` items, the top of their validation-tuned blend and the
shopper's own recent items where re-consumption is allowed (:mod:`.repeats`).
:class:`~shopsense.ranking.features.FeatureBuilder` turns them into rows and the
:class:`~shopsense.ranking.ranker.MultiTaskRanker` orders them for the requested objective
(click, conversion or revenue). Without a ranker (a shop with no logged impressions yet)
the blend orders them. :func:`~shopsense.ranking.exploration.explore` then fills the list,
with a propensity for every shown item.

Example::

    >>> stack = Stack.load(path)                                          # doctest: +SKIP
    >>> stack.recommend([{"item_id": "P1", "kind": "view"}], n=10).item_ids  # doctest: +SKIP
    >>> state = stack.state([("P1", "view", t1), ("P7", "impression", t2)])  # doctest: +SKIP
    >>> ranked = stack.rank(state, n=10, now_us=now)                      # doctest: +SKIP
    >>> ranked.items.shape, ranked.propensity.shape                       # doctest: +SKIP
    ((10,), (10,))
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shopsense.domain import EventKind, Product
from shopsense.errors import ConfigError, ModelError
from shopsense.features.idmap import IdMap
from shopsense.models import load_model
from shopsense.models.base import Precision
from shopsense.ranking.exploration import explore
from shopsense.ranking.features import FeatureBuilder, blended
from shopsense.ranking.items import FloatArray, IntArray, ItemStats, ItemTable
from shopsense.ranking.ranker import OBJECTIVES, MultiTaskRanker, Objective
from shopsense.ranking.repeats import RepeatPolicy
from shopsense.ranking.shopper import ShopperState, shopper_state
from shopsense.ranking.sources import RetrievalSources
from shopsense.store.base import to_micros

BoolArray = npt.NDArray[np.bool_]
KINDS = tuple(k.value for k in EventKind)


@dataclass(frozen=True)
class StackConfig:
    """How the default stack is trained and how it serves.

    ``candidates``: the retrieval models tried on validation data (hyper-parameters in
    ``params``); ``item_tower``: add the item-feature tower when the catalog is known (it
    scores products with no events yet); ``per_source`` / ``repeat_candidates``: how many
    candidates each model and the shopper's own history give; the ranker is trained once
    the log holds ``min_impressions`` impressions with ``min_clicks`` clicks, on rows built
    by ``folds``-fold cross-fitting over shoppers; ``objective`` and ``exploration`` are
    the serving defaults.
    """

    candidates: tuple[str, ...] = (
        "popularity",
        "repeat",
        "transition",
        "item_knn",
        "als",
        "ease",
        "mult_dae",
    )
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    item_tower: bool = True
    per_source: int = 50
    repeat_candidates: int = 20
    folds: int = 3
    min_impressions: int = 1000
    min_clicks: int = 30
    #: Leaf categories whose repeat share reaches this let seen products come back.
    repeat_threshold: float = 0.05
    ranker: Mapping[str, Any] = field(default_factory=dict)
    objective: Objective = "conversion"
    exploration: float = 0.0
    #: What the retrieval models predict on validation: the shopper's next event, repeats
    #: included (``"next_event"``), or their next new step (``"next_item"``, consecutive
    #: repeats collapsed: the leave-one-out protocol of the papers).
    validation: str = "next_event"
    #: Validation shoppers sampled to choose the retrieval models (all when fewer).
    validation_users: int = 5000
    #: A blend must beat the best single model by this share of its NDCG@10 to be used.
    min_blend_gain: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if not 0.0 <= self.exploration <= 1.0:
            raise ConfigError(f"exploration must be between 0 and 1, got {self.exploration}")
        if self.folds < 2:
            raise ConfigError(f"cross-fitting needs at least 2 folds, got {self.folds}")

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["candidates"] = list(self.candidates)
        data["params"] = {k: dict(v) for k, v in self.params.items()}
        data["ranker"] = dict(self.ranker)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackConfig:
        values = dict(data)
        values["candidates"] = tuple(values.get("candidates", cls.candidates))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def top_allowed(values: FloatArray, k: int, allowed: BoolArray) -> IntArray:
    """The ``k`` best allowed items of ``values`` ``(n_items,)``, best first."""
    masked = np.where(allowed, values, -np.inf)
    k = min(k, int(np.isfinite(masked).sum()))
    if k <= 0:
        return np.empty(0, np.int64)
    top = np.argpartition(-masked, k - 1)[:k]
    return top[np.argsort(-masked[top], kind="stable")].astype(np.int64)


@dataclass(frozen=True)
class Recommendations:
    """What :meth:`Stack.recommend` answers: product ids best first, their scores, the
    probability the (exploring) policy showed each, and what ordered them."""

    item_ids: list[str]
    scores: list[float]
    propensities: list[float]
    strategy: str


class EventLike(Protocol):
    @property
    def item_id(self) -> str | None: ...
    @property
    def kind(self) -> Any: ...
    @property
    def timestamp(self) -> datetime: ...


def _triple(event: Mapping[str, Any] | EventLike) -> tuple[str | None, str, int]:
    """``(item_id, kind, time_us)`` of a history entry (missing times: 0)."""
    if isinstance(event, Mapping):
        item, kind, moment = event.get("item_id"), event.get("kind"), event.get("timestamp")
    else:
        item, kind, moment = event.item_id, event.kind, event.timestamp
    kind = getattr(kind, "value", kind)
    if kind not in KINDS:
        raise ConfigError(f"history event kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if moment is None:
        micros = 0
    elif isinstance(moment, datetime):
        micros = to_micros(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    else:
        micros = int(float(moment) * 1_000_000)
    return (None if item is None else str(item)), str(kind), micros


@dataclass(frozen=True)
class Ranked:
    """A list for one shopper: ``items`` (table rows), their ``scores`` (the objective's
    probability, or the blend score), each shown item's ``propensity`` and which path
    ordered them (``"ranker"`` or ``"blend"``)."""

    items: IntArray
    scores: FloatArray
    propensity: npt.NDArray[np.float64]
    strategy: str


@dataclass
class Stack:
    """Everything the default stack serves from (see the module docstring)."""

    table: ItemTable
    sources: RetrievalSources
    blend: dict[str, float]
    stats: ItemStats
    repeats: RepeatPolicy
    ranker: MultiTaskRanker | None
    config: StackConfig = field(default_factory=StackConfig)
    #: How it was chosen and how it did: validation metrics, the ranker's report, data sizes.
    report: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def item_map(self) -> IdMap:
        """The table's item ids as an :class:`IdMap` (what catalog masks are built over)."""
        return IdMap(self.table.item_ids)

    @cached_property
    def builder(self) -> FeatureBuilder:
        return FeatureBuilder(
            self.table, self.stats, self.sources.names, self.blend, self.sources.probabilistic
        )

    @cached_property
    def _ranker_columns(self) -> IntArray | None:
        """The builder's columns the ranker reads, when they differ from all of them (a
        bundle trained before a feature was added reads the features it knows)."""
        built = self.builder.feature_names
        wanted = self.ranker.feature_names_ if self.ranker is not None else built
        if wanted == built:
            return None
        missing = [name for name in wanted if name not in built]
        if missing:
            raise ModelError(
                f"the ranker reads features this version does not build: {missing}; "
                "retrain with `shopsense train`"
            )
        return np.array([built.index(name) for name in wanted], np.int64)

    @property
    def strategy(self) -> str:
        return "ranker" if self.ranker is not None else "blend"

    def state(self, events: Sequence[tuple[str | None, str, int]]) -> ShopperState:
        """A shopper's state from ``(item_id, kind, time_us)`` triples, oldest first."""
        return shopper_state(self.table, events)

    def allowed(
        self,
        state: ShopperState,
        exclude_seen: bool | None = None,
        base: BoolArray | None = None,
    ) -> BoolArray:
        """``base`` (default: in stock) with the shopper's seen products removed where they
        may not come back (:mod:`.repeats`)."""
        mask = self.table.in_stock if base is None else base
        return self.repeats.allowed(self.table, state.engaged_count, mask, exclude_seen)

    def with_products(self, products: Sequence[Product]) -> Stack:
        """A copy that also knows ``products`` added since it was trained: they get a row,
        neutral statistics, and vectors in the sources that can make them (the item tower
        scores products with no events from their features); the others score them -inf."""
        table = self.table.with_products(products)
        if table is self.table:
            return self
        models = dict(self.sources.models)
        for name, model in models.items():
            add = getattr(model, "add_items", None)
            if add is None:
                continue
            fresh = copy.copy(model)
            for attr in ("item_vectors_", "item_popularity_"):
                if hasattr(fresh, attr):
                    setattr(fresh, attr, getattr(fresh, attr).copy())
            new = [p for p in products if p.id not in self.table.index]
            fresh.add_items(new)  # type: ignore[attr-defined]
            models[name] = fresh
        return dataclasses.replace(
            self,
            table=table,
            sources=RetrievalSources(models),
            stats=self.stats.extended(len(table)),
        )

    def _candidates(
        self, state: ShopperState, scores: Mapping[str, FloatArray], allowed: BoolArray
    ) -> IntArray:
        per = self.config.per_source
        picked = [top_allowed(values, per, allowed) for values in scores.values()]
        if "blend" not in scores:
            picked.append(top_allowed(blended(scores, self.blend), per, allowed))
        recent = np.array(
            list(dict.fromkeys(reversed(state.items)))[: self.config.repeat_candidates]
        )
        if recent.size:
            picked.append(recent[allowed[recent]].astype(np.int64))
        merged = np.concatenate(picked)
        _, first = np.unique(merged, return_index=True)
        result: IntArray = merged[np.sort(first)]
        return result

    def recommend(
        self,
        history: Sequence[Mapping[str, Any] | EventLike] = (),
        n: int = 10,
        *,
        objective: Objective | None = None,
        exploration: float = 0.0,
        exclude_seen: bool | None = None,
        now: datetime | None = None,
        seed: int | None = None,
    ) -> Recommendations:
        """The top ``n`` product ids for a shopper whose events so far are ``history``
        (oldest first: dicts with ``item_id``, ``kind`` and optionally ``timestamp``, or
        :class:`~shopsense.domain.Event` s). Impressions in it count as shown-not-clicked
        unless clicked. ``exclude_seen``: ``None`` follows the learned re-consumption rule.
        ``exploration``: epsilon of the exploring policy (0: the greedy list)."""
        triples = [_triple(e) for e in history]
        fallback = triples[-1][2] if triples else to_micros(datetime.now(UTC))
        now_us = to_micros(now) if now is not None else fallback
        state = self.state(triples)
        ranked = self.rank(
            state,
            n,
            now_us,
            allowed=self.allowed(state, exclude_seen),
            objective=objective,
            exploration=exploration,
            rng=np.random.default_rng(seed),
        )
        ids = [self.table.item_ids[i] for i in ranked.items]
        return Recommendations(
            ids, ranked.scores.tolist(), ranked.propensity.tolist(), ranked.strategy
        )

    def rank(
        self,
        state: ShopperState,
        n: int,
        now_us: int,
        *,
        allowed: BoolArray | None = None,
        objective: Objective | None = None,
        exploration: float | None = None,
        rng: np.random.Generator | None = None,
        query: str | None = None,
    ) -> Ranked:
        """The shopper's list of ``n``: ``allowed`` ``(n_items,)`` masks what may be shown
        (default :meth:`allowed`); ``objective`` / ``exploration`` default to the config's."""
        scores = self._scores(state)
        mask = self.allowed(state) if allowed is None else allowed
        candidates = self._candidates(state, scores, mask)
        return self._order(state, candidates, scores, n, now_us, objective, exploration, rng, query)

    def rerank(
        self,
        state: ShopperState,
        candidates: IntArray,
        now_us: int,
        *,
        objective: Objective | None = None,
        query: str | None = None,
    ) -> Ranked:
        """Re-order given candidates ``(k,)`` (search results, similar items) for the
        shopper; without a ranker they keep their order."""
        candidates = np.asarray(candidates, np.int64)
        if self.ranker is None or candidates.size == 0:
            ones = np.ones(candidates.size)
            return Ranked(candidates, -np.arange(candidates.size, dtype=np.float32), ones, "given")
        scores = self._scores(state)
        return self._order(
            state, candidates, scores, candidates.size, now_us, objective, 0.0, None, query
        )

    def _scores(self, state: ShopperState) -> dict[str, FloatArray]:
        """Every source's scores of all items for the shopper, and their blend (``"blend"``,
        computed once for the candidates and the features)."""
        scores = {
            name: values[0]
            for name, values in self.sources.scores_batch([state], len(self.table)).items()
        }
        if self.blend:
            scores["blend"] = blended(scores, self.blend)
        return scores

    def _order(
        self,
        state: ShopperState,
        candidates: IntArray,
        scores: Mapping[str, FloatArray],
        n: int,
        now_us: int,
        objective: Objective | None,
        exploration: float | None,
        rng: np.random.Generator | None,
        query: str | None,
    ) -> Ranked:
        if candidates.size == 0:
            return Ranked(candidates, np.empty(0, np.float32), np.empty(0), self.strategy)
        if self.ranker is not None:
            rows = self.builder.build(state, candidates, scores, now_us, query)
            if self._ranker_columns is not None:
                rows = rows[:, self._ranker_columns]
            value = self.ranker.objective_scores(
                rows, objective or self.config.objective, self.table.price[candidates], candidates
            )
        else:
            value = blended(scores, self.blend)[candidates]
        order = np.lexsort((np.arange(value.size), -value))
        epsilon = self.config.exploration if exploration is None else exploration
        if epsilon:  # explores over positions in ``candidates``, best first
            picked, propensity = explore(order, n, epsilon, rng or np.random.default_rng())
        else:  # the greedy list: no generator to seed
            picked, propensity = order[:n], np.ones(min(n, order.size))
        values = np.asarray(value, np.float32)[picked]
        return Ranked(candidates[picked], values, propensity, self.strategy)

    # --- persistence ------------------------------------------------------------------
    def save(self, directory: str | Path, precision: Precision = "float32") -> None:
        """Write the stack; ``precision``: how the retrieval models store learned arrays."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.table.save(directory / "items")
        self.stats.save(directory / "items")
        self.repeats.save(directory)
        for name, model in self.sources.models.items():
            model.save(directory / "sources" / name, training_log=False, precision=precision)
        if self.ranker is not None:
            self.ranker.save(directory / "ranker")
        meta = {
            "format": 1,
            "sources": list(self.sources.names),
            "blend": self.blend,
            "config": self.config.as_json(),
            "report": self.report,
        }
        (directory / "stack.json").write_text(json.dumps(meta, indent=1, default=float))

    @classmethod
    def load(cls, directory: str | Path) -> Stack:
        directory = Path(directory)
        try:
            meta = json.loads((directory / "stack.json").read_text())
            table = ItemTable.load(directory / "items")
            stats = ItemStats.load(directory / "items")
            repeats = RepeatPolicy.load(directory)
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot load the stack from {directory}: {exc}") from exc
        models = {name: load_model(directory / "sources" / name) for name in meta["sources"]}
        ranker = (
            MultiTaskRanker.load(directory / "ranker") if (directory / "ranker").is_dir() else None
        )
        return cls(
            table=table,
            sources=RetrievalSources(models),
            blend={k: float(v) for k, v in meta["blend"].items()},
            stats=stats,
            repeats=repeats,
            ranker=ranker,
            config=StackConfig.from_json(meta["config"]),
            report=meta.get("report", {}),
        )
