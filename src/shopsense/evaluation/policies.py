"""What the simulated shop shows: policies that answer a batch of recommendation requests.

A policy gets ``b`` :class:`Request` s (the shopper's current state, with every event of
the simulation so far, the moment, the list size and which items may be shown) and returns
one array of item indices per request, best first. Policies never see the ground truth.

- :class:`RandomPolicy`: uniformly random allowed items;
- :class:`ModelPolicy`: one retrieval model (popularity, ALS, SASRec, ...) scoring the
  shopper's fresh history;
- :class:`StackPolicy`: the full stack (several retrieval models -> multi-task ranker);
- :class:`HttpPolicy`: a running ShopSense server (``GET /recommendations/{user}``), with the
  simulated events posted back to ``POST /events``.

Example::

    >>> policy = ModelPolicy("als", als_model)                              # doctest: +SKIP
    >>> policy.recommend([Request("U0001", state, now_us, 10, allowed)])   # doctest: +SKIP
    [array([ 812, 4410, ...])]
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.models import MODELS
from shopsense.models.base import Recommender, top_k
from shopsense.models.ranker import MultiTaskRanker, Objective
from shopsense.ranking.features import (
    EventArrays,
    FeatureBuilder,
    FloatArray,
    IntArray,
    ItemStats,
    ItemTable,
    ShopperState,
)
from shopsense.ranking.logged import LoggedRows, event_arrays
from shopsense.ranking.stack import FullStack, RetrievalSources, candidate_items, histories_of
from shopsense.ranking.training import DEFAULT_SOURCES, fit_sources, interaction_data
from shopsense.store.base import EventBatch, event_row
from shopsense.synth import SampleShop
from shopsense.synth.truth import GroundTruth

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One list to fill: ``allowed`` is the ``(n_items,)`` mask of items that may be shown;
    ``request_id`` comes back on the shopper's events about this list."""

    user_id: str
    state: ShopperState
    now_us: int
    n: int
    allowed: npt.NDArray[np.bool_]
    request_id: str = ""


class Policy(Protocol):
    """Anything that fills lists; ``observe`` receives the shoppers' simulated events."""

    name: str

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]: ...

    def observe(self, events: Sequence[Event]) -> None: ...


@dataclass
class RandomPolicy:
    """Uniformly random allowed items (the floor every policy must beat)."""

    seed: int = 0
    name: str = "random"
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        out = []
        for request in requests:
            pool = np.flatnonzero(request.allowed)
            size = min(request.n, pool.size)
            out.append(self.rng.choice(pool, size=size, replace=False).astype(np.int64))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        """Random needs no feedback."""


@dataclass
class ModelPolicy:
    """One recommender ranking every item for the shopper's fresh history."""

    name: str
    model: Recommender

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        if not requests:
            return []
        histories = histories_of([r.state for r in requests], len(self.model.items_))
        scores = self.model.score(histories)
        out = []
        for row, request in enumerate(requests):
            values = np.where(request.allowed, scores[row], -np.inf).astype(np.float32)
            out.append(top_k(values, request.n))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        """Histories are passed with every request; nothing to store."""


@dataclass
class StackPolicy:
    """The full stack: retrieval candidates re-ranked by the multi-task ranker."""

    stack: FullStack
    name: str = "full_stack"

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        if not requests:
            return []
        return self.stack.recommend_batch(
            [r.state for r in requests],
            max(r.n for r in requests),
            [r.now_us for r in requests],
            [r.allowed for r in requests],
        )

    def observe(self, events: Sequence[Event]) -> None:
        """Histories are passed with every request; nothing to store."""


@dataclass
class ExplorationPolicy:
    """The logging policy that feeds the ranker: shows a random ``n`` of the retrieval
    candidates in random order and logs each shown item's features as served (feature
    logging). ``observe`` labels them from the shoppers' clicks and purchases."""

    sources: RetrievalSources
    builder: FeatureBuilder
    per_source: int = 50
    seed: int = 0
    name: str = "explore"
    rng: np.random.Generator = field(init=False, repr=False)
    _rows: list[FloatArray] = field(init=False, repr=False, default_factory=list)
    _keys: list[tuple[str, int]] = field(init=False, repr=False, default_factory=list)
    _clicked: set[tuple[str, int]] = field(init=False, repr=False, default_factory=set)
    _bought: set[tuple[str, int]] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        if not requests:
            return []
        block = self.sources.scores_batch([r.state for r in requests])
        out = []
        for row, request in enumerate(requests):
            scores = {name: values[row] for name, values in block.items()}
            pool = candidate_items(scores, self.per_source, request.allowed)
            shown = self.rng.permutation(pool)[: request.n]
            self._rows.append(self.builder.build(request.state, shown, scores, request.now_us))
            self._keys += [(request.request_id, p) for p in range(shown.size)]
            out.append(shown)
        return out

    def observe(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.request_id is None or event.position is None:
                continue
            key = (event.request_id, int(event.position))
            if event.kind is EventKind.CLICK:
                self._clicked.add(key)
            elif event.kind is EventKind.PURCHASE:
                self._bought.add(key)

    def logged(self) -> LoggedRows:
        """Every shown item so far: features as served, position and labels."""
        features = np.concatenate(self._rows) if self._rows else np.zeros((0, 0), np.float32)
        click = np.array([k in self._clicked for k in self._keys], np.int8)
        purchase = np.array([k in self._bought for k in self._keys], np.int8)
        n = len(self._keys)
        return LoggedRows(
            features=features,
            position=np.array([p for _, p in self._keys], np.int64),
            click=click,
            purchase=purchase & click,
            request=np.zeros(n, np.int64),
            time=np.arange(n, dtype=np.int64),
        )


@dataclass
class HttpPolicy:
    """A ShopSense server: ``GET {url}/recommendations/{user}?scenario=for_you&n=N`` must
    answer ``{"items": [{"item_id": ...}], "request_id": ...}``; simulated events go to
    ``POST {url}/events`` (``{"events": [...]}``, key in ``X-API-Key``) so the server's
    real-time path sees them and its next answer uses them."""

    url: str
    item_ids: list[str]
    api_key: str | None = None
    scenario: str = "for_you"
    timeout_s: float = 10.0
    name: str = "http"
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._index = {item: i for i, item in enumerate(self.item_ids)}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read() or b"null")
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"the ShopSense server at {self.url} did not answer {method} {path}: {exc}; "
                "start it with `shopsense serve` or fix --url"
            ) from exc

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        out = []
        for request in requests:
            query = urllib.parse.urlencode({"scenario": self.scenario, "n": request.n})
            user = urllib.parse.quote(request.user_id, safe="")
            answer = self._call("GET", f"/recommendations/{user}?{query}")
            entries = answer.get("items", []) if isinstance(answer, dict) else answer
            ids = [e["item_id"] if isinstance(e, dict) else str(e) for e in entries]
            index = [self._index[i] for i in ids if i in self._index]
            shown = [i for i in index if request.allowed[i]][: request.n]
            out.append(np.asarray(shown, np.int64))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), 1000):  # the API takes up to 1000 per call
            chunk = events[start : start + 1000]
            self._call("POST", "/events", {"events": [e.model_dump(mode="json") for e in chunk]})


@dataclass
class SimulationWorld:
    """A sample shop as the simulator and the policies need it: the truth, the catalog's
    item table, the event log as arrays, and every shopper's state at the log's end."""

    truth: GroundTruth
    table: ItemTable
    log: EventArrays
    user_ids: list[str]
    queries: dict[int, str]
    states: dict[str, ShopperState]

    @classmethod
    def from_shop(cls, shop: SampleShop) -> SimulationWorld:
        from shopsense.evaluation.simulator import shopper_states

        table = ItemTable.from_products(shop.products)
        batch = EventBatch.from_rows([event_row(e) for e in shop.events])
        log, user_ids, queries = event_arrays(batch, table)
        return cls(shop.truth, table, log, user_ids, queries, shopper_states(log, user_ids, table))


#: Policies ``shopsense simulate`` knows: random, one retrieval model each, the full stack.
POLICIES = ("random", "popularity", "als", "sasrec", "full_stack")


#: Hyper-parameters of the single-model policies (others use the model's defaults).
MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "als": {"factors": 64, "iterations": 15},
    "sasrec": {"epochs": 40, "patience": 5, "num_threads": 1},
}


def explore_and_train(
    world: SimulationWorld,
    *,
    sessions: int = 4000,
    ranker: MultiTaskRanker | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 10_000,
) -> tuple[FullStack, LoggedRows]:
    """Fit the retrieval models on the log, serve ``sessions`` exploration visits
    (:class:`ExplorationPolicy`, simulator seed ``seed``), and train the ranker on the
    impressions they logged. Returns the full stack and the logged rows."""
    from shopsense.evaluation.simulator import ShopSimulator, SimulationConfig

    data = interaction_data(world.log, world.user_ids, world.table)
    fitted = fit_sources(data, DEFAULT_SOURCES if sources is None else sources)
    builder = FeatureBuilder(world.table, ItemStats.from_log(world.log, world.table), fitted.names)
    explorer = ExplorationPolicy(fitted, builder, seed=seed)
    config = SimulationConfig(sessions=sessions, seed=seed)
    ShopSimulator(world.truth, world.table, world.states, config).run(explorer)
    rows = explorer.logged()
    logger.info(
        "exploration logged %d impressions, %d clicks, %d purchases",
        len(rows),
        int(rows.click.sum()),
        int(rows.purchase.sum()),
    )
    model = (ranker or MultiTaskRanker()).fit(
        rows.features, rows.position, rows.click, rows.purchase
    )
    return FullStack(fitted, builder, model), rows


def build_policies(
    world: SimulationWorld,
    names: Sequence[str] = POLICIES,
    *,
    ranker: MultiTaskRanker | None = None,
    explore_sessions: int = 4000,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    objective: Objective = "conversions",
) -> dict[str, Policy]:
    """Fit what the named policies need on the world's log (single models on all of it;
    the full stack as :func:`explore_and_train` describes)."""
    params = dict(MODEL_PARAMS if model_params is None else model_params)
    data = interaction_data(world.log, world.user_ids, world.table)
    policies: dict[str, Policy] = {}
    for name in names:
        if name == "random":
            policies[name] = RandomPolicy()
        elif name == "full_stack":
            stack, _ = explore_and_train(
                world, sessions=explore_sessions, ranker=ranker, sources=sources
            )
            stack.objective = objective
            policies[name] = StackPolicy(stack)
        elif name in MODELS:
            policies[name] = ModelPolicy(name, MODELS[name](**dict(params.get(name, {}))).fit(data))
        else:
            known = ", ".join([*POLICIES, *MODELS])
            raise ConfigError(f"unknown policy {name!r}; choose from {known}")
    return policies
