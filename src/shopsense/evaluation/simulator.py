"""Closed-loop shop simulator: shoppers from the sample shop's ground truth meet a policy.

Sessions start after the logged window (``days`` of new traffic), each by a shopper drawn
in proportion to their hidden activity. In a session the shopper asks for a list of
``list_size`` recommendations, looks at position ``p`` with the sample shop's examination
probability, clicks, carts and buys exactly as :class:`~shopsense.synth.truth.GroundTruth`
says (the model that generated the logged data), and goes on to another list with
``continue_rate`` (after a purchase, complements of what was bought get their utility
boost, as in the logged sessions). Every event flows back at once: the shopper's state
(what policies score) gains it, and ``sink`` / the policy's ``observe`` receive it.

Policies see only the shopper's events and the catalog, never the truth. All policies
play the same arrivals with the same per-session random streams (common random numbers),
so differences come from what was shown.

Example::

    >>> simulator = ShopSimulator(truth, table, states, SimulationConfig(sessions=2000))
    >>> result = simulator.run(ModelPolicy("als", als))                    # doctest: +SKIP
    >>> result.summary().conversion_rate                                   # doctest: +SKIP
    0.071
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.abtest import UserOutcomes, mean_interval, ratio_interval, wilson_interval
from shopsense.evaluation.policies import Policy, Request
from shopsense.ranking.features import EventArrays, ItemTable, ShopperState
from shopsense.store.base import from_micros, to_micros
from shopsense.synth.sessions import CONTINUE_RATE
from shopsense.synth.truth import GroundTruth

logger = logging.getLogger(__name__)
_US_PER_DAY = 86_400 * 1_000_000
_SECOND = 1_000_000


@dataclass(frozen=True)
class SimulationConfig:
    """``sessions`` visits spread over ``days`` after the logged window; at most
    ``max_lists`` lists per visit; ``batch_size`` concurrent visits are served together."""

    sessions: int = 2000
    list_size: int = 10
    max_lists: int = 4
    continue_rate: float = CONTINUE_RATE
    days: float = 7.0
    batch_size: int = 64
    seed: int = 0


@dataclass(frozen=True)
class PolicySummary:
    """Per-session metrics with 95% CIs (CTR by the delta method over sessions)."""

    sessions: int
    ctr: float
    ctr_ci95: tuple[float, float]
    conversion_rate: float
    conversion_ci95: tuple[float, float]
    revenue_per_session: float
    revenue_ci95: tuple[float, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "sessions": self.sessions,
            "ctr": self.ctr,
            "ctr_ci95": list(self.ctr_ci95),
            "conversion_rate": self.conversion_rate,
            "conversion_ci95": list(self.conversion_ci95),
            "revenue_per_session": self.revenue_per_session,
            "revenue_ci95": list(self.revenue_ci95),
        }


@dataclass(frozen=True)
class SimulationResult:
    """One row per session, arrays ``(n_sessions,)``; ``user_ids[i]`` played session ``i``."""

    user_ids: list[str]
    impressions: npt.NDArray[np.float64]
    clicks: npt.NDArray[np.float64]
    purchases: npt.NDArray[np.float64]
    revenue: npt.NDArray[np.float64]

    def summary(self) -> PolicySummary:
        n = len(self.user_ids)
        converted = int((self.purchases > 0).sum())
        return PolicySummary(
            sessions=n,
            ctr=float(self.clicks.sum() / max(self.impressions.sum(), 1.0)),
            ctr_ci95=ratio_interval(self.clicks, self.impressions),
            conversion_rate=converted / max(n, 1),
            conversion_ci95=wilson_interval(converted, n),
            revenue_per_session=float(self.revenue.mean()) if n else 0.0,
            revenue_ci95=mean_interval(self.revenue),
        )

    def per_user(self) -> UserOutcomes:
        """Totals per shopper (the unit an A/B test randomises)."""
        users = sorted(set(self.user_ids))
        index = {u: i for i, u in enumerate(users)}
        rows = np.array([index[u] for u in self.user_ids], np.int64)

        def total(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return np.bincount(rows, weights=values, minlength=len(users)).astype(np.float64)

        return UserOutcomes(
            users,
            total(self.impressions),
            total(self.clicks),
            total(self.purchases),
            total(self.revenue),
        )


def shopper_states(
    log: EventArrays, user_ids: Sequence[str], table: ItemTable
) -> dict[str, ShopperState]:
    """Every logged shopper's state at the end of the log (replayed in time order)."""
    states: dict[str, ShopperState] = {}
    for user, item, kind, time in zip(log.user, log.item, log.kind, log.time, strict=True):
        uid = user_ids[int(user)]
        state = states.get(uid)
        if state is None:
            state = states[uid] = ShopperState(table.n_leaves, table.n_brands)
        state.observe(table, int(item), str(kind), int(time))
    return states


@dataclass
class _Visit:
    session: int
    user: int
    now_us: int
    rng: np.random.Generator
    lists: int = 0
    context_leaf: int = -1
    totals: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(4))


@dataclass
class ShopSimulator:
    """Plays visits against policies; see the module docstring."""

    truth: GroundTruth
    table: ItemTable
    history: Mapping[str, ShopperState]
    config: SimulationConfig = field(default_factory=SimulationConfig)

    def __post_init__(self) -> None:
        if list(self.table.item_ids) != list(self.truth.item_ids):
            raise ConfigError(
                "the simulator's item table must list the sample shop's products in catalog "
                "order; build it with ItemTable.from_products(shop.products)"
            )
        if self.config.sessions < 1 or self.config.list_size < 1:
            raise ConfigError("the simulation needs at least one session and one item per list")

    def arrivals(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Users ``(sessions,)`` (drawn by activity) and start times (µs), sorted by time."""
        rng = np.random.default_rng([self.config.seed, 1])
        weight = self.truth.user_activity / self.truth.user_activity.sum()
        users = rng.choice(weight.size, size=self.config.sessions, p=weight)
        start = to_micros(self.truth.end)
        times = start + (rng.random(self.config.sessions) * self.config.days * _US_PER_DAY)
        order = np.argsort(times, kind="stable")
        return users[order].astype(np.int64), times[order].astype(np.int64)

    def run(
        self,
        policy: Policy | Callable[[str], Policy],
        sink: Callable[[Sequence[Event]], object] | None = None,
    ) -> SimulationResult:
        """Play every visit; ``policy`` may be a function of the user id (A/B routing).

        ``sink`` (e.g. ``store.events.append``) receives each batch's events.
        """
        route: Callable[[str], Policy] = policy if callable(policy) else (lambda _u: policy)
        states = {u: s.snapshot() for u, s in self.history.items()}
        users, times = self.arrivals()
        ids = self.truth.user_ids
        totals = np.zeros((users.size, 4))
        waiting = list(range(users.size))
        while waiting:
            wave: list[_Visit] = []
            busy: set[int] = set()
            while waiting and len(wave) < self.config.batch_size:
                s = waiting[0]
                if int(users[s]) in busy:
                    break
                waiting.pop(0)
                busy.add(int(users[s]))
                rng = np.random.default_rng([self.config.seed, 2, s])
                wave.append(_Visit(s, int(users[s]), int(times[s]), rng))
            while wave:
                events = self._serve(wave, states, route)
                if sink is not None and events:
                    sink(events)
                still = []
                for visit in wave:
                    more = visit.rng.random() < self.config.continue_rate
                    if more and visit.lists < self.config.max_lists:
                        still.append(visit)
                    else:
                        totals[visit.session] = visit.totals
                wave = still
        logger.info("simulated %d sessions", users.size)
        return SimulationResult([ids[u] for u in users], *totals.T)

    def _serve(
        self,
        wave: list[_Visit],
        states: dict[str, ShopperState],
        route: Callable[[str], Policy],
    ) -> list[Event]:
        """One list for every visit in the wave: ask the policies, then react."""
        table = self.table
        groups: dict[int, tuple[Policy, list[int]]] = {}
        requests: list[Request] = []
        for k, visit in enumerate(wave):
            uid = self.truth.user_ids[visit.user]
            state = states.setdefault(uid, ShopperState(table.n_leaves, table.n_brands))
            allowed = table.in_stock & (table.created_us <= visit.now_us)
            allowed[np.asarray(state.items, np.int64)] = False
            request_id = f"sim-{self.config.seed}-{visit.session}-{visit.lists + 1}"
            requests.append(
                Request(uid, state, visit.now_us, self.config.list_size, allowed, request_id)
            )
            policy = route(uid)
            groups.setdefault(id(policy), (policy, []))[1].append(k)
        lists: list[npt.NDArray[np.int64]] = [np.empty(0, np.int64)] * len(wave)
        for policy, members in groups.values():
            answers = policy.recommend([requests[k] for k in members])
            for k, items in zip(members, answers, strict=True):
                lists[k] = np.asarray(items, np.int64)[: self.config.list_size]
        events: list[Event] = []
        for k, visit in enumerate(wave):
            events += self._react(visit, requests[k], lists[k])
        for policy, members in groups.values():
            mine = {requests[k].user_id for k in members}
            policy.observe([e for e in events if e.user_id in mine])
        return events

    def _react(self, visit: _Visit, served: Request, items: npt.NDArray[np.int64]) -> list[Event]:
        """The shopper's clicks, carts and purchases on one shown list, per the truth."""
        truth, rng = self.truth, visit.rng
        state, uid, request = served.state, served.user_id, served.request_id
        visit.lists += 1
        day = (visit.now_us - to_micros(truth.start)) / _US_PER_DAY
        draws = rng.random((3, self.config.list_size))
        k = items.size
        events = [
            _event(request, p, uid, visit, EventKind.IMPRESSION, self.table.item_ids[item], p)
            for p, item in enumerate(items)
        ]
        visit.totals[0] += k
        if k == 0:
            return events
        click = truth.click_probabilities(visit.user, items, np.arange(k), day, visit.context_leaf)
        clicked = np.flatnonzero(draws[0, :k] < click)
        cart, buy = truth.cart_and_buy_probabilities(
            visit.user, items[clicked], day, visit.context_leaf
        )
        for n, position in enumerate(clicked):
            item = int(items[position])
            visit.now_us += 15 * _SECOND
            steps = [EventKind.CLICK, EventKind.VIEW]
            if draws[1, position] < cart[n]:
                steps.append(EventKind.ADD_TO_CART)
                if draws[2, position] < buy[n]:
                    steps.append(EventKind.PURCHASE)
            for step in steps:
                state.observe(self.table, item, step.value, visit.now_us)
                item_id = self.table.item_ids[item]
                events.append(
                    _event(request, len(events), uid, visit, step, item_id, int(position))
                )
            visit.totals[1] += 1
            if steps[-1] is EventKind.PURCHASE:
                visit.totals[2] += 1
                visit.totals[3] += float(self.table.price[item])
                visit.context_leaf = int(truth.item_category[item])
        visit.now_us += 30 * _SECOND
        return events


def _event(
    request: str, n: int, uid: str, visit: _Visit, kind: EventKind, item_id: str, position: int
) -> Event:
    # The simulator knows which list led to a cart or purchase: attribute it (request_id).
    return Event.model_construct(
        event_id=f"{request}-{n}",
        user_id=uid,
        session_id=f"sim-session-{visit.session}",
        kind=kind,
        item_id=item_id,
        query=None,
        request_id=request,
        position=position,
        quantity=1 if kind is EventKind.PURCHASE else None,
        price=None,
        timestamp=from_micros(visit.now_us + n * 1000),
    )


def plot_summaries(results: Mapping[str, Mapping[str, object]], path: Path) -> None:
    """Bar charts of conversion rate and revenue per session with 95% CIs (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (key, ci_key, label, scale) in zip(
        axes,
        [
            ("ctr", "ctr_ci95", "CTR (%)", 100.0),
            ("conversion_rate", "conversion_ci95", "conversion rate (%)", 100.0),
            ("revenue_per_session", "revenue_ci95", "revenue per session", 1.0),
        ],
        strict=True,
    ):
        values = np.array([float(results[n][key]) for n in names]) * scale  # type: ignore[arg-type]
        cis = np.array([list(results[n][ci_key]) for n in names], np.float64) * scale  # type: ignore[call-overload]
        errors = np.abs(cis.T - values)
        ax.bar(names, values, yerr=errors, capsize=4, color="#4a7fb5")
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle("Simulated traffic per policy (95% CIs)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
