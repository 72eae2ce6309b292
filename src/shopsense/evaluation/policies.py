"""What a shop shows: policies that answer batches of recommendation and search requests.

A policy gets ``b`` :class:`Request` s (the shopper's current state, with every event so
far, the moment, the list size, which items may be shown and, for a search, the query) and
answers each with a :class:`Shown` list: item indices best first and the probability that
the policy showed each one at its position (exact for the exploring policies, 1 for the
greedy ones). Policies learn only from :class:`LoggedShop`: the catalog and the event log a
shop has. Nothing here can reach a simulator's hidden truth.

- :class:`RandomPolicy`: uniformly random allowed items;
- :class:`ModelPolicy`: one retrieval model (popularity, ALS, ...) scoring the shopper's
  fresh history; searches answered by plain BM25 relevance;
- :class:`StackPolicy`: ShopSense's default stack (retrieval -> feedback ranker), which also
  re-ranks the BM25 results of a search;
- :class:`ExplorationPolicy`: random lists of a retrieval blend's candidates, the logging
  policy that exploration traffic comes from;
- :class:`~shopsense.evaluation.http_policy.HttpPolicy` (its own module): a running
  ShopSense server (``GET /recommendations``, ``GET /search``) with the shoppers' events
  posted back to ``POST /events``.

Example::

    >>> logged = LoggedShop.from_events(products, events)                   # doctest: +SKIP
    >>> from shopsense.training import train_stack                           # doctest: +SKIP
    >>> policies = build_policies(logged, ["popularity", "als", "stack"],
    ...                           train=train_stack)                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from shopsense import progress
from shopsense.dataset import Dataset
from shopsense.domain import Event, Product
from shopsense.errors import ConfigError
from shopsense.experiments import Experiment, Variant
from shopsense.index.lexical import LexicalIndex
from shopsense.models import MODELS
from shopsense.models.base import Recommender, top_k
from shopsense.ranking.features import blended
from shopsense.ranking.fitting import interaction_data
from shopsense.ranking.items import EventArrays, IntArray, ItemTable
from shopsense.ranking.logged import event_arrays
from shopsense.ranking.ranker import OBJECTIVES, Objective
from shopsense.ranking.shopper import ShopperState
from shopsense.ranking.sources import histories_of
from shopsense.ranking.stack import Stack, StackConfig, top_allowed
from shopsense.store.base import EventBatch, event_row

logger = logging.getLogger(__name__)
#: Results of the base search that a policy may re-order.
SEARCH_POOL = 50
#: Trains the default stack on a shop's data as ``shopsense train`` does; callers pass
#: :func:`shopsense.training.train_stack` (evaluation sits below training, so it is handed in).
StackTrainer = Callable[[Dataset, StackConfig | None], Stack]


@dataclass(frozen=True)
class Request:
    """One list to fill: ``allowed`` is the ``(n_items,)`` mask of items that may be shown;
    ``request_id`` comes back on the shopper's events about this list; ``query`` is set for
    a search."""

    user_id: str
    state: ShopperState
    now_us: int
    n: int
    allowed: npt.NDArray[np.bool_]
    request_id: str = ""
    query: str | None = None


class Shown(NamedTuple):
    """A list as shown: ``items`` ``(k,)`` best first and each one's ``propensity``."""

    items: IntArray
    propensity: npt.NDArray[np.float64]


def greedy(items: npt.ArrayLike) -> Shown:
    array = np.asarray(items, np.int64)
    return Shown(array, np.ones(array.size))


class Policy(Protocol):
    """Anything that fills lists; ``observe`` receives the shoppers' events."""

    name: str

    def recommend(self, requests: Sequence[Request]) -> list[Shown]: ...

    def observe(self, events: Sequence[Event]) -> None: ...


@dataclass
class LoggedShop:
    """What a shop knows: its catalog and its event log, as the policies train on them."""

    products: list[Product]
    events: EventBatch

    @classmethod
    def from_events(cls, products: Sequence[Product], events: Sequence[Event]) -> LoggedShop:
        return cls(list(products), EventBatch.from_rows([event_row(e) for e in events]))

    def with_events(self, events: Sequence[Event]) -> LoggedShop:
        """This shop after ``events`` more (exploration traffic every policy learns from)."""
        extra = EventBatch.from_rows([event_row(e) for e in events])
        return LoggedShop(self.products, EventBatch.concat([self.events, extra]))

    @cached_property
    def table(self) -> ItemTable:
        return ItemTable.from_products(self.products)

    @cached_property
    def arrays(self) -> tuple[EventArrays, list[str], dict[int, str]]:
        return event_arrays(self.events, self.table)

    @cached_property
    def search_index(self) -> LexicalIndex:
        index = LexicalIndex()
        index.upsert(enumerate(self.products))
        return index

    def dataset(self) -> Dataset:
        return Dataset(self.events, tuple(self.products))

    def states(self) -> dict[str, ShopperState]:
        """Every logged shopper's state at the end of the log (replayed in time order)."""
        log, user_ids, _ = self.arrays
        table = self.table
        states: dict[str, ShopperState] = {}
        for user, item, kind, moment in zip(log.user, log.item, log.kind, log.time, strict=True):
            uid = user_ids[int(user)]
            state = states.get(uid)
            if state is None:
                state = states[uid] = ShopperState(table.n_leaves, table.n_brands)
            state.observe(table, int(item), str(kind), int(moment))
        return states

    def search(self, query: str, allowed: npt.NDArray[np.bool_], k: int = SEARCH_POOL) -> IntArray:
        """The shop's plain BM25 search: the ``k`` most relevant allowed products."""
        rows, _ = self.search_index.search(query, limit=4 * k)
        rows = np.asarray(rows, np.int64)
        return rows[allowed[rows]][:k]


@dataclass
class RandomPolicy:
    """Uniformly random allowed items (the floor every policy must beat)."""

    seed: int = 0
    name: str = "random"
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def recommend(self, requests: Sequence[Request]) -> list[Shown]:
        out = []
        for request in requests:
            pool = np.flatnonzero(request.allowed)
            size = min(request.n, pool.size)
            items = self.rng.choice(pool, size=size, replace=False).astype(np.int64)
            # A random ordering of the pool: each item is at each position with chance 1/m.
            out.append(Shown(items, np.full(size, 1.0 / max(pool.size, 1))))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        """Random needs no feedback."""


@dataclass
class ModelPolicy:
    """One recommender ranking every item for the shopper's fresh history; searches are
    answered in plain BM25 order."""

    name: str
    model: Recommender
    logged: LoggedShop

    def recommend(self, requests: Sequence[Request]) -> list[Shown]:
        if not requests:
            return []
        scores = self.model.score(histories_of([r.state for r in requests], len(self.model.items_)))
        out = []
        for row, request in enumerate(requests):
            if request.query is not None:
                out.append(greedy(self.logged.search(request.query, request.allowed)[: request.n]))
                continue
            values = np.where(request.allowed, scores[row], -np.inf).astype(np.float32)
            out.append(greedy(top_k(values, request.n)))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        """Histories are passed with every request; nothing to store."""


@dataclass
class StackPolicy:
    """ShopSense's default stack: its lists for recommendations, and the BM25 results of a
    search re-ordered for the shopper and the objective."""

    stack: Stack
    logged: LoggedShop
    objective: Objective | None = None
    exploration: float = 0.0
    seed: int = 0
    name: str = "stack"
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def recommend(self, requests: Sequence[Request]) -> list[Shown]:
        out = []
        for request in requests:
            if request.query is not None:
                found = self.logged.search(request.query, request.allowed)
                ranked = self.stack.rerank(
                    request.state, found, request.now_us, objective=self.objective,
                    query=request.query,
                )  # fmt: skip
                out.append(greedy(ranked.items[: request.n]))
                continue
            ranked = self.stack.rank(
                request.state,
                request.n,
                request.now_us,
                allowed=request.allowed,
                objective=self.objective,
                exploration=self.exploration,
                rng=self.rng,
            )
            out.append(Shown(ranked.items, ranked.propensity))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        """Histories are passed with every request; nothing to store."""


@dataclass
class ExplorationPolicy:
    """The logging policy of exploration traffic: a random order of the retrieval blend's
    top ``pool`` allowed items or, for a ``uniform`` share of the lists, of every allowed
    item. Each list is one of the two random permutations, so the chance of an item at any
    position is exact: ``uniform / m + (1 - uniform) / pool`` for a pool item (``m``
    allowed items), ``uniform / m`` for the others; that is its logged propensity."""

    stack: Stack
    pool: int = 50
    uniform: float = 0.0
    seed: int = 0
    name: str = "explore"
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def recommend(self, requests: Sequence[Request]) -> list[Shown]:
        out = []
        for request in requests:
            scores = self.stack.sources.scores_batch([request.state], len(self.stack.table))
            blend = blended({k: v[0] for k, v in scores.items()}, self.stack.blend)
            candidates = top_allowed(blend, self.pool, request.allowed)
            everything = np.flatnonzero(request.allowed)
            draw_all = self.uniform > 0 and self.rng.random() < self.uniform
            shown = self.rng.permutation(everything if draw_all else candidates)[: request.n]
            in_pool = np.isin(shown, candidates)
            propensity = self.uniform / max(everything.size, 1) + np.where(
                in_pool, (1.0 - self.uniform) / max(candidates.size, 1), 0.0
            )
            out.append(Shown(shown.astype(np.int64), propensity))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        """Exploration does not adapt."""


#: Policies ``shopsense simulate`` knows: random, the default stack, one retrieval model each.
POLICIES = ("random", "popularity", "als", "item_knn", "stack")

#: Hyper-parameters of the single-model policies (others use the model's defaults).
MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "als": {"factors": 64, "iterations": 15},
    "sasrec": {"epochs": 40, "patience": 5, "num_threads": 1},
}


def build_policies(
    logged: LoggedShop,
    names: Sequence[str] = POLICIES,
    *,
    train: StackTrainer | None = None,
    config: StackConfig | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    objective: Objective | None = None,
) -> dict[str, Policy]:
    """Every named policy, each fitted on the same ``logged`` shop: single models on its
    engagements, the stack (``"stack"``) trained by ``train`` as ``shopsense train`` trains
    it."""
    params = dict(MODEL_PARAMS if model_params is None else model_params)
    policies: dict[str, Policy] = {}
    data = None
    for name in progress.track(names, "training the policies", unit="policies"):
        if name == "random":
            policies[name] = RandomPolicy()
        elif name == "stack":
            if train is None:
                raise ConfigError(
                    "the stack policy needs its trainer: pass train=shopsense.training.train_stack"
                )
            stack = train(logged.dataset(), config)
            policies[name] = StackPolicy(stack, logged, objective)
        elif name in MODELS:
            if data is None:
                log, user_ids, _ = logged.arrays
                data = interaction_data(log, user_ids, logged.table)
            model = MODELS[name](**dict(params.get(name, {}))).fit(data)
            policies[name] = ModelPolicy(name, model, logged)
        else:
            known = ", ".join(["random", "stack", *MODELS])
            raise ConfigError(f"unknown policy {name!r}; choose from {known}")
    return policies


def variant_key(variant: Variant) -> str:
    """The policy a variant needs: its name, plus its params when it has any."""
    if not variant.params:
        return variant.policy
    return f"{variant.policy}{json.dumps(variant.params, sort_keys=True)}"


def build_variant_policies(
    logged: LoggedShop,
    experiments: Sequence[Experiment],
    *,
    train: StackTrainer | None = None,
    config: StackConfig | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Policy]:
    """One policy per distinct :func:`variant_key` of the experiments' variants. A model
    variant's ``params`` are its hyper-parameters (``{factors = 32}``); a ``stack`` variant
    takes ``objective`` and ``exploration`` (the stack is trained once and shared)."""
    variants = [v for e in experiments for v in e.variants]
    base = build_policies(
        logged,
        list(dict.fromkeys(v.policy for v in variants)),
        train=train,
        config=config,
        model_params=model_params,
    )
    out: dict[str, Policy] = {}
    for variant in variants:
        key = variant_key(variant)
        if key in out:
            continue
        policy = base[variant.policy]
        if not variant.params:
            out[key] = policy
        elif isinstance(policy, StackPolicy):
            unknown = set(variant.params) - {"objective", "exploration"}
            objective = variant.params.get("objective", policy.objective)
            if unknown or (objective is not None and objective not in OBJECTIVES):
                raise ConfigError(
                    f"variant {variant.name!r}: stack takes params {{objective = 'click' | "
                    f"'conversion' | 'revenue', exploration = 0.05}}, got {variant.params}"
                )
            exploration = float(variant.params.get("exploration", policy.exploration))
            out[key] = StackPolicy(policy.stack, logged, objective, exploration, name=key)
        elif isinstance(policy, ModelPolicy):
            try:
                model = MODELS[variant.policy](**variant.params)
            except TypeError as exc:
                raise ConfigError(
                    f"variant {variant.name!r}: bad params for {variant.policy}: {exc}"
                ) from exc
            log, user_ids, _ = logged.arrays
            out[key] = ModelPolicy(
                key, model.fit(interaction_data(log, user_ids, logged.table)), logged
            )
        else:
            raise ConfigError(f"variant {variant.name!r}: {variant.policy} takes no params")
    return out
