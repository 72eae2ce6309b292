"""Closed-loop shop simulator: shoppers from the sample shop's ground truth meet a policy.

Visits start after the logged window (``days`` of new traffic), each by a shopper drawn in
proportion to their hidden activity. A visit is a run of lists: each one is a search (with
the shopper's hidden search rate; the query is typed for a category they like) or a
"for you" recommendation list, of ``list_size`` items. The shopper looks at position ``p``
with the sample shop's examination probability, clicks, carts and buys as
:class:`~shopsense.synth.truth.GroundTruth` says, and goes on with ``continue_rate`` (after
a purchase, complements of what was bought get their utility boost, as in the log). Every
event flows back at once: the shopper's state (what policies score) gains it, and
``sink`` / the policy's ``observe`` receive it. Impressions carry the policy's propensity.

``disagreement`` (utility units) makes a third of the products click more and sell less,
or the opposite, on the simulated lists only: browsing in the log does not show it, only
feedback on what is shown does. ``carry_over=False`` starts every visit from the logged
state, so the contexts do not depend on the policy (off-policy estimates are then exact).

All policies play the same arrivals with the same per-visit random streams (common random
numbers), so differences come from what was shown.

Example::

    >>> simulator = ShopSimulator(world, SimulationConfig(sessions=2000))  # doctest: +SKIP
    >>> result = simulator.run(policies["als"])                            # doctest: +SKIP
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

from shopsense import progress
from shopsense.domain import Event, EventKind
from shopsense.errors import ConfigError
from shopsense.evaluation.abtest import UserOutcomes, mean_interval, ratio_interval, wilson_interval
from shopsense.evaluation.policies import Policy, Request, Shown
from shopsense.evaluation.simulator.world import SimulatedShop, disagreement_shifts
from shopsense.ranking.shopper import ShopperState
from shopsense.store.base import from_micros, to_micros
from shopsense.synth.sessions import CONTINUE_RATE

logger = logging.getLogger(__name__)
_US_PER_DAY = 86_400 * 1_000_000
_SECOND = 1_000_000


@dataclass(frozen=True)
class SimulationConfig:
    """``sessions`` visits spread over ``days`` after the logged window; at most
    ``max_lists`` lists per visit; ``batch_size`` concurrent visits are served together;
    ``search``: shoppers search at their hidden rate (else only recommendation lists)."""

    sessions: int = 2000
    list_size: int = 10
    max_lists: int = 4
    continue_rate: float = CONTINUE_RATE
    days: float = 7.0
    batch_size: int = 64
    search: bool = True
    disagreement: float = 0.0
    carry_over: bool = True
    #: Days after the logged window at which these visits begin (later traffic follows
    #: earlier traffic, e.g. exploration then evaluation).
    start_day: float = 0.0
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
class PairedDifference:
    """One policy minus another on the same visits: conversion in share of sessions (a
    difference of proportions) and revenue per session, with 95% intervals."""

    sessions: int
    conversion: float
    conversion_ci95: tuple[float, float]
    revenue: float
    revenue_ci95: tuple[float, float]

    @property
    def conversion_apart(self) -> bool:
        """Whether the conversion interval excludes no difference."""
        return self.conversion_ci95[0] > 0 or self.conversion_ci95[1] < 0

    def as_dict(self) -> dict[str, object]:
        return {
            "sessions": self.sessions,
            "conversion_difference": self.conversion,
            "conversion_difference_ci95": list(self.conversion_ci95),
            "conversion_apart": self.conversion_apart,
            "revenue_difference": self.revenue,
            "revenue_difference_ci95": list(self.revenue_ci95),
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

    def paired_difference(self, other: SimulationResult) -> PairedDifference:
        """This policy minus ``other`` on the very same visits (the simulator plays every
        policy on the same arrivals and random streams): conversion (share of sessions
        with a purchase) and revenue per session, with 95% intervals of the per-session
        differences. Pairing removes the shoppers' own variation, so the interval is much
        narrower than two separate intervals; it is the comparison to read."""
        if self.user_ids != other.user_ids:
            raise ConfigError("paired differences need the same visits (same simulator run)")
        converted = (self.purchases > 0).astype(np.float64) - (other.purchases > 0)
        revenue = self.revenue - other.revenue
        return PairedDifference(
            sessions=len(self.user_ids),
            conversion=float(converted.mean()) if converted.size else 0.0,
            conversion_ci95=mean_interval(converted),
            revenue=float(revenue.mean()) if revenue.size else 0.0,
            revenue_ci95=mean_interval(revenue),
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

    world: SimulatedShop
    config: SimulationConfig = field(default_factory=SimulationConfig)
    history: Mapping[str, ShopperState] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.config.sessions < 1 or self.config.list_size < 1:
            raise ConfigError("the simulation needs at least one session and one item per list")
        self.history = self.world.logged.states()
        n = len(self.world.logged.table)
        self._click_shift, self._buy_shift = disagreement_shifts(
            n, self.config.disagreement, self.config.seed
        )

    def arrivals(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Users ``(sessions,)`` (drawn by activity) and start times (µs), sorted by time."""
        rng = np.random.default_rng([self.config.seed, 1])
        truth = self.world.truth
        weight = truth.user_activity / truth.user_activity.sum()
        users = rng.choice(weight.size, size=self.config.sessions, p=weight)
        start = to_micros(truth.end) + int(self.config.start_day * _US_PER_DAY)
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
        ids = self.world.truth.user_ids
        totals = np.zeros((users.size, 4))
        waiting = list(range(users.size))
        with progress.task("simulating visits", total=users.size, unit="visits") as advance:
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
                    if not self.config.carry_over:
                        uid = ids[int(users[s])]
                        if uid in self.history:
                            states[uid] = self.history[uid].snapshot()
                        else:
                            states.pop(uid, None)
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
                            advance(1)
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
        table = self.world.logged.table
        truth = self.world.truth
        groups: dict[int, tuple[Policy, list[int]]] = {}
        requests: list[Request] = []
        events: list[Event] = []
        for k, visit in enumerate(wave):
            uid = truth.user_ids[visit.user]
            state = states.setdefault(uid, ShopperState(table.n_leaves, table.n_brands))
            allowed = table.in_stock & (table.created_us <= visit.now_us)
            allowed[np.asarray(state.items, np.int64)] = False
            request_id = f"sim-{self.config.seed}-{visit.session}-{visit.lists + 1}"
            query = None
            searches = (
                self.config.search and visit.rng.random() < truth.user_search_rate[visit.user]
            )
            if searches:
                query, _ = self.world.query_for(visit.user, visit.rng)
                events.append(
                    _event(request_id, "q", uid, visit, EventKind.SEARCH, None, None, query=query)
                )
            requests.append(
                Request(uid, state, visit.now_us, self.config.list_size, allowed, request_id, query)
            )
            policy = route(uid)
            groups.setdefault(id(policy), (policy, []))[1].append(k)
        lists: list[Shown] = [Shown(np.empty(0, np.int64), np.empty(0))] * len(wave)
        for policy, members in groups.values():
            answers = policy.recommend([requests[k] for k in members])
            for k, shown in zip(members, answers, strict=True):
                keep = slice(0, self.config.list_size)
                lists[k] = Shown(
                    np.asarray(shown.items, np.int64)[keep], np.asarray(shown.propensity)[keep]
                )
        for k, visit in enumerate(wave):
            events += self._react(visit, requests[k], lists[k])
        for policy, members in groups.values():
            mine = {requests[k].user_id for k in members}
            policy.observe([e for e in events if e.user_id in mine])
        return events

    def _react(self, visit: _Visit, served: Request, shown: Shown) -> list[Event]:
        """The shopper's clicks, carts and purchases on one shown list, per the truth."""
        truth, rng = self.world.truth, visit.rng
        table = self.world.logged.table
        state, uid, request = served.state, served.user_id, served.request_id
        items = shown.items
        visit.lists += 1
        day = (visit.now_us - to_micros(truth.start)) / _US_PER_DAY
        draws = rng.random((3, self.config.list_size))
        k = items.size
        events = [
            _event(request, p, uid, visit, EventKind.IMPRESSION, table.item_ids[item], p,
                   propensity=float(shown.propensity[p]))
            for p, item in enumerate(items)
        ]  # fmt: skip
        for item in items:  # the shopper saw them: the next lists know it
            state.observe(table, int(item), EventKind.IMPRESSION.value, visit.now_us)
        visit.totals[0] += k
        if k == 0:
            return events
        click = truth.click_probabilities(
            visit.user, items, np.arange(k), day, visit.context_leaf, self._click_shift
        )
        clicked = np.flatnonzero(draws[0, :k] < click)
        cart, buy = truth.cart_and_buy_probabilities(
            visit.user, items[clicked], day, visit.context_leaf, self._buy_shift
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
                state.observe(table, item, step.value, visit.now_us)
                events.append(
                    _event(request, len(events), uid, visit, step, table.item_ids[item],
                           int(position))
                )  # fmt: skip
            visit.totals[1] += 1
            if steps[-1] is EventKind.PURCHASE:
                visit.totals[2] += 1
                visit.totals[3] += float(table.price[item])
                visit.context_leaf = int(truth.item_category[item])
        visit.now_us += 30 * _SECOND
        return events


def _event(
    request: str,
    n: int | str,
    uid: str,
    visit: _Visit,
    kind: EventKind,
    item_id: str | None,
    position: int | None,
    *,
    query: str | None = None,
    propensity: float | None = None,
) -> Event:
    # The simulator knows which list led to a cart or purchase: attribute it (request_id).
    return Event.model_construct(
        event_id=f"{request}-{n}",
        user_id=uid,
        session_id=f"sim-session-{visit.session}",
        kind=kind,
        item_id=item_id,
        query=query,
        request_id=request,
        position=position,
        propensity=propensity,
        quantity=1 if kind is EventKind.PURCHASE else None,
        price=None,
        timestamp=from_micros(visit.now_us + (n * 1000 if isinstance(n, int) else 0)),
    )


def plot_summaries(results: Mapping[str, Mapping[str, object]], path: Path) -> None:
    """Bar charts of CTR, conversion rate and revenue per session with 95% CIs (PNG)."""
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
