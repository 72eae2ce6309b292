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
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.experiments import Experiment, Variant
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


class HttpResponse(Protocol):
    """What :class:`HttpPolicy` reads from an answer (``httpx.Response`` has both)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...


class HttpClient(Protocol):
    """``request(method, url, content=, headers=)``: an ``httpx.Client`` or FastAPI's
    ``TestClient`` (the app in-process) fit; by default :class:`UrllibClient`."""

    def request(
        self, method: str, url: str, *, content: bytes | None = None, headers: dict[str, str]
    ) -> HttpResponse: ...


@dataclass(frozen=True)
class _UrllibResponse:
    status_code: int
    content: bytes


@dataclass(frozen=True)
class UrllibClient:
    """The standard library's HTTP client (no extra dependency for ``simulate --url``)."""

    timeout_s: float = 10.0

    def request(
        self, method: str, url: str, *, content: bytes | None = None, headers: dict[str, str]
    ) -> HttpResponse:
        request = urllib.request.Request(url, content, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return _UrllibResponse(int(response.status), response.read())
        except urllib.error.HTTPError as exc:  # an answer, only not a 2xx one
            return _UrllibResponse(int(exc.code), exc.read())


@dataclass
class HttpPolicy:
    """A ShopSense server: ``GET {url}/recommendations/{user}?scenario=for_you&n=N`` must
    answer ``{"items": [{"item_id": ...}], "request_id": ...}``; simulated events go to
    ``POST {url}/events`` (``{"events": [...]}``, key in ``X-API-Key``) so the server's
    real-time path sees them and its next answer uses them.

    The server leaves out only what is in its recent-history window, the simulator every
    item the shopper ever engaged with, so ``overfetch`` times ``n`` items are asked for
    (at most 100, the API's cap) and the first ``n`` allowed ones are shown. Events carry
    the server's ``request_id`` (so its live experiment statistics attribute them) and
    event ids prefixed with a per-policy ``run_id`` (so a second simulation against the
    same server is not dropped as duplicates).

    Example::

        >>> policy = HttpPolicy("http://127.0.0.1:8000", item_ids, api_key="KEY")  # doctest: +SKIP
        >>> with TestClient(app) as client:                                   # doctest: +SKIP
        ...     policy = HttpPolicy("", item_ids, api_key="KEY", client=client)
    """

    url: str
    item_ids: list[str]
    api_key: str | None = None
    scenario: str = "for_you"
    timeout_s: float = 10.0
    name: str = "http"
    overfetch: int = 3
    client: HttpClient | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _index: dict[str, int] = field(init=False, repr=False)
    _server_requests: dict[str, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._index = {item: i for i, item in enumerate(self.item_ids)}
        if self.client is None:
            self.client = UrllibClient(self.timeout_s)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.client is not None
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        data = None if body is None else json.dumps(body).encode()
        try:
            response = self.client.request(method, self.url + path, content=data, headers=headers)
        except (OSError, urllib.error.URLError) as exc:
            raise ConfigError(
                f"the ShopSense server at {self.url} did not answer {method} {path}: {exc}; "
                "start it with `shopsense serve` or fix --url"
            ) from exc
        if response.status_code >= 400:
            detail = response.content[:300].decode("utf-8", "replace")
            hint = (
                "; pass the server's key with --api-key"
                if response.status_code in (401, 403)
                else ""
            )
            raise ConfigError(
                f"the ShopSense server at {self.url} answered {method} {path} with "
                f"{response.status_code}: {detail}{hint}"
            )
        try:
            return json.loads(response.content or b"null")
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"the server at {self.url} answered {method} {path} with non-JSON: {exc}; "
                "is --url a ShopSense server?"
            ) from exc

    def recommend(self, requests: Sequence[Request]) -> list[IntArray]:
        out = []
        for request in requests:
            fetch = min(100, max(request.n, request.n * self.overfetch))
            query = urllib.parse.urlencode({"scenario": self.scenario, "n": fetch})
            user = urllib.parse.quote(request.user_id, safe="")
            answer = self._call("GET", f"/recommendations/{user}?{query}")
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise ConfigError(
                    f"GET /recommendations/{user} at {self.url} did not answer "
                    '{"items": [...]}; is --url a ShopSense server?'
                )
            if request.request_id and answer.get("request_id"):
                self._server_requests[request.request_id] = str(answer["request_id"])
            ids = [str(e["item_id"]) for e in answer["items"]]
            index = [self._index[i] for i in ids if i in self._index]
            shown = [i for i in index if request.allowed[i]][: request.n]
            out.append(np.asarray(shown, np.int64))
        return out

    def observe(self, events: Sequence[Event]) -> None:
        posted = [self._as_posted(e) for e in events]
        for start in range(0, len(posted), 1000):  # the API takes up to 1000 per call
            self._call("POST", "/events", {"events": posted[start : start + 1000]})

    def _as_posted(self, event: Event) -> dict[str, Any]:
        body: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
        body["event_id"] = f"{self.run_id}-{event.event_id}"
        if event.request_id is not None:
            body["request_id"] = self._server_requests.get(event.request_id, event.request_id)
        return body


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


def variant_key(variant: Variant) -> str:
    """The policy a variant needs: its name, plus its params when it has any."""
    if not variant.params:
        return variant.policy
    return f"{variant.policy}{json.dumps(variant.params, sort_keys=True)}"


def build_variant_policies(
    world: SimulationWorld,
    experiments: Sequence[Experiment],
    *,
    ranker: MultiTaskRanker | None = None,
    explore_sessions: int = 4000,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Policy]:
    """One policy per distinct :func:`variant_key` of the experiments' variants. A model
    variant's ``params`` are its hyper-parameters (``{factors = 32}``); a ``full_stack``
    variant takes ``objective`` only (the stack is trained once and shared)."""
    variants = [v for e in experiments for v in e.variants]
    base = build_policies(
        world,
        list(dict.fromkeys(v.policy for v in variants)),
        ranker=ranker,
        explore_sessions=explore_sessions,
        sources=sources,
        model_params=model_params,
    )
    data = interaction_data(world.log, world.user_ids, world.table) if variants else None
    out: dict[str, Policy] = {}
    for variant in variants:
        key = variant_key(variant)
        if key in out:
            continue
        policy = base[variant.policy]
        if not variant.params:
            out[key] = policy
        elif isinstance(policy, StackPolicy):
            unknown = set(variant.params) - {"objective"}
            objective = variant.params.get("objective", policy.stack.objective)
            if unknown or objective not in ("clicks", "conversions", "revenue"):
                raise ConfigError(
                    f"variant {variant.name!r}: full_stack takes params "
                    f"{{objective = 'clicks' | 'conversions' | 'revenue'}}, got {variant.params}"
                )
            out[key] = StackPolicy(replace(policy.stack, objective=objective), name=key)
        elif isinstance(policy, ModelPolicy) and data is not None:
            try:
                model = MODELS[variant.policy](**variant.params)
            except TypeError as exc:
                raise ConfigError(
                    f"variant {variant.name!r}: bad params for {variant.policy}: {exc}"
                ) from exc
            out[key] = ModelPolicy(key, model.fit(data))
        else:
            raise ConfigError(f"variant {variant.name!r}: {variant.policy} takes no params")
    return out
