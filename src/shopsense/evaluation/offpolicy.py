"""Off-policy estimates: what a candidate policy's lists would earn, from logged lists.

Each logged list is a context (the shopper's state when it was served), the items shown
at each slot, the logging policy's probability of each of them at that slot (its
propensity, logged with the impression) and a reward per slot (a click, a purchase).
Assuming a slot's reward depends on its item and position only (the independence the
item-position estimators of Li et al. WSDM 2018 rest on), three estimators give the
candidate's expected reward per list:

- **IPS**: ``mean_lists sum_k w_k r_k`` with ``w_k = pi(a_k at k | x) / mu(a_k at k | x)``;
- **SNIPS**: per slot ``sum w r / sum w`` (self-normalised: lower variance, a small bias);
- **DR** (doubly robust): ``mean_lists sum_k [q_pi(x, k) + w_k (r_k - q(x, a_k, k))]`` with a
  reward model ``q`` (the feedback ranker's prediction at that position) and ``q_pi`` its
  value of the candidate's slot; unbiased when either the propensities or ``q`` are right.

Intervals are 95% normal intervals over lists (a list is the unit: its slots share a
shopper), by the delta method for SNIPS. Where few logged lists match the candidate, those
standard errors say too little: with one or two matches at a slot and no click among them
they are 0. So each slot also has an **effective number of lists**, Kish's
``(sum w)^2 / sum w^2`` (reported as ``effective_lists``, the smallest over the slots), and
the IPS and SNIPS standard errors are at least those of a proportion over that many lists
(Agresti-Coull: ``z^2 / 2`` added successes and failures; rewards per slot are 0 or 1),
slots taken as independent. With thousands of matches the floor is far below the delta
method's; with a handful it widens the interval to what the log can say, and a slot the
candidate fills but no logged list matched gets the floor of a proportion known not at all.
The candidate's probabilities come from its
greedy ranking and its exploration rate: ``(1 - epsilon)`` for its item at a slot, plus
``epsilon / pool`` for every item of its exploration pool (see
:mod:`shopsense.ranking.exploration`).

Example::

    >>> inputs = replay_candidate(log, table, stack, objective="click")    # doctest: +SKIP
    >>> estimates(inputs, "click")["snips"].ci95                           # doctest: +SKIP
    (0.412, 0.468)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopsense.errors import ModelError, ValidationError
from shopsense.ranking.items import EventArrays, ItemTable
from shopsense.ranking.logged import LoggedRequest, impression_labels, replay_requests
from shopsense.ranking.ranker import Objective
from shopsense.ranking.stack import Stack

FloatMatrix = npt.NDArray[np.float64]
Z95 = 1.959964


@dataclass(frozen=True)
class Estimate:
    """A policy's estimated reward per list with its standard error and 95% interval;
    ``effective_lists``: for the importance-weighted estimators, the fewest effective
    logged lists of any slot (Kish)."""

    value: float
    se: float
    lists: int
    effective_lists: float | None = None

    @property
    def ci95(self) -> tuple[float, float]:
        return (self.value - Z95 * self.se, self.value + Z95 * self.se)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "value": self.value,
            "se": self.se,
            "ci95": list(self.ci95),
            "lists": self.lists,
        }
        if self.effective_lists is not None:
            out["effective_lists"] = self.effective_lists
        return out


def _mean(values: npt.NDArray[np.float64]) -> Estimate:
    n = values.size
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return Estimate(float(values.mean()) if n else math.nan, se, n)


def _slot_floor(
    reward: FloatMatrix, weight: FloatMatrix, filled: npt.NDArray[np.bool_] | None = None
) -> tuple[FloatMatrix, FloatMatrix]:
    """The effective number of lists (Kish) of each slot the candidate fills, and per slot
    ``(slots,)`` the variance of an Agresti-Coull proportion over that many (see the module
    doc). ``filled`` ``(slots,)``: the slots the candidate shows something at (default:
    those some list matches); a slot it leaves empty has no floor."""
    totals = weight.sum(axis=0)
    squares = np.square(weight).sum(axis=0)
    effective = np.divide(np.square(totals), squares, out=np.zeros_like(totals), where=squares > 0)
    rate = np.divide((weight * reward).sum(axis=0), totals, out=np.zeros_like(totals),
                     where=totals > 0)  # fmt: skip
    z2 = Z95**2
    adjusted = (effective * rate + z2 / 2) / (effective + z2)
    filled = totals > 0 if filled is None else filled | (totals > 0)
    floor = np.where(filled, adjusted * (1 - adjusted) / (effective + z2), 0.0)
    return effective[filled], floor


def _fewest(effective: FloatMatrix) -> float:
    return float(effective.min()) if effective.size else 0.0


def ips(
    reward: FloatMatrix, weight: FloatMatrix, filled: npt.NDArray[np.bool_] | None = None
) -> Estimate:
    """Inverse propensity scoring: ``(lists, slots)`` rewards and weights (0 where padded);
    standard error over lists, at least the effective-lists floor (module doc; ``filled``:
    the slots the candidate fills)."""
    plain = _mean((weight * reward).sum(axis=1))
    effective, floor = _slot_floor(reward, weight, filled)
    # IPS at a slot is the slot's mean weight times its SNIPS rate; a slot nothing matched
    # counts as weight 1 (the mean weight where the logger covers the candidate)
    share = np.where(weight.sum(axis=0) > 0, weight.mean(axis=0), 1.0)
    se = max(plain.se, math.sqrt(float((np.square(share) * floor).sum())))
    return Estimate(plain.value, se, plain.lists, _fewest(effective))


def snips(
    reward: FloatMatrix, weight: FloatMatrix, filled: npt.NDArray[np.bool_] | None = None
) -> Estimate:
    """Self-normalised IPS, normalised per slot; delta-method standard error over lists, at
    least the effective-lists floor (module doc; ``filled``: the slots the candidate
    fills)."""
    n = reward.shape[0]
    totals = weight.sum(axis=0)
    used = totals > 0
    if not used.any():
        return Estimate(math.nan, math.inf, n, 0.0)
    per_slot = np.zeros(reward.shape[1])
    per_slot[used] = (weight * reward).sum(axis=0)[used] / totals[used]
    scale = np.where(used, n / np.where(used, totals, 1.0), 0.0)
    influence = (weight * (reward - per_slot) * scale).sum(axis=1)
    se = float(influence.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    effective, floor = _slot_floor(reward, weight, filled)
    se = max(se, math.sqrt(float(floor.sum())))
    return Estimate(float(per_slot.sum()), se, n, _fewest(effective))


def doubly_robust(
    reward: FloatMatrix, weight: FloatMatrix, q_logged: FloatMatrix, q_target: FloatMatrix
) -> Estimate:
    """``q_logged``: the reward model at each logged item and slot; ``q_target``: its
    expected value of the candidate's slot (``sum_a pi(a at k) q(x, a, k)``)."""
    return _mean((q_target + weight * (reward - q_logged)).sum(axis=1))


@dataclass(frozen=True)
class Target:
    """The candidate policy's list for one logged context: its greedy item at each slot
    (``-1`` where it has none), its exploration rate and the pool exploration draws from."""

    greedy: npt.NDArray[np.int64]
    epsilon: float = 0.0
    pool: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))

    def probability(self, slot: int, item: int) -> float:
        """``pi(item at slot | context)``."""
        p = 0.0
        if slot < self.greedy.size and self.greedy[slot] == item:
            p += 1.0 - self.epsilon
        if self.epsilon and self.pool.size and item in set(self.pool.tolist()):
            p += self.epsilon / self.pool.size
        return p


@dataclass(frozen=True)
class OffPolicyInputs:
    """Everything the estimators read, ``(lists, slots)`` each (slots padded with NaN
    propensity and 0 reward): the logged propensity, the candidate's probability of the
    logged item at its slot, the rewards by name, and per reward the model's value at the
    logged item (``q_logged``) and of the candidate's slot (``q_target``)."""

    propensity: FloatMatrix
    target: FloatMatrix
    rewards: dict[str, FloatMatrix]
    q_logged: dict[str, FloatMatrix]
    q_target: dict[str, FloatMatrix]
    #: ``(slots,)``: the slots where the candidate shows something in some logged context
    filled: npt.NDArray[np.bool_] | None = None

    @property
    def weight(self) -> FloatMatrix:
        known = np.isfinite(self.propensity) & (self.propensity > 0)
        w = np.zeros(self.propensity.shape)
        w[known] = self.target[known] / self.propensity[known]
        return w

    def logged_value(self, reward: str) -> Estimate:
        """What the logging policy itself earned per list (its on-policy value)."""
        return _mean(self.rewards[reward].sum(axis=1))


def estimates(inputs: OffPolicyInputs, reward: str) -> dict[str, Estimate]:
    """IPS, SNIPS and (when a reward model was given) DR for one reward."""
    r, w = inputs.rewards[reward], inputs.weight
    out = {"ips": ips(r, w, inputs.filled), "snips": snips(r, w, inputs.filled)}
    if reward in inputs.q_logged:
        out["dr"] = doubly_robust(r, w, inputs.q_logged[reward], inputs.q_target[reward])
    return out


#: The reward model: for a context index, items ``(m,)`` and slots ``(m,)`` -> predicted
#: reward of each ``(m,)``, one array per reward name.
RewardModel = Callable[
    [int, npt.NDArray[np.int64], npt.NDArray[np.int64]], dict[str, npt.NDArray[np.float64]]
]


def offpolicy_inputs(
    logged_items: Sequence[npt.NDArray[np.int64]],
    logged_propensity: Sequence[npt.NDArray[np.float64]],
    rewards: dict[str, Sequence[npt.NDArray[np.float64]]],
    targets: Sequence[Target],
    model: RewardModel | None = None,
) -> OffPolicyInputs:
    """Assemble the estimators' matrices from per-list arrays (item, propensity and reward
    per shown slot, in slot order) and the candidate's :class:`Target` per list."""
    n = len(logged_items)
    slots = max((len(i) for i in logged_items), default=0)
    propensity = np.full((n, slots), np.nan)
    target = np.zeros((n, slots))
    reward = {name: np.zeros((n, slots)) for name in rewards}
    q_logged = {name: np.zeros((n, slots)) for name in rewards} if model else {}
    q_target = {name: np.zeros((n, slots)) for name in rewards} if model else {}
    filled = np.zeros(slots, bool)
    for j, (items, p, goal) in enumerate(
        zip(logged_items, logged_propensity, targets, strict=True)
    ):
        k = len(items)
        propensity[j, :k] = p
        target[j, :k] = [goal.probability(s, int(a)) for s, a in enumerate(items)]
        shows = min(k, goal.greedy.size)
        filled[:shows] |= goal.greedy[:shows] >= 0
        if goal.epsilon and goal.pool.size:
            filled[:k] = True
        for name in rewards:
            reward[name][j, :k] = rewards[name][j]
        if model is None:
            continue
        at_logged = model(j, np.asarray(items, np.int64), np.arange(k))
        for name in rewards:
            q_logged[name][j, :k] = at_logged[name]
        kept = goal.greedy[: max(k, 0)]
        has = kept >= 0
        value = {name: np.zeros(k) for name in rewards}
        if has.any():
            greedy_q = model(j, kept[has], np.flatnonzero(has))
            for name in rewards:
                value[name][has] += (1.0 - goal.epsilon) * greedy_q[name]
        if goal.epsilon and goal.pool.size:
            m = goal.pool.size
            pool_items = np.tile(goal.pool, k)
            pool_slots = np.repeat(np.arange(k), m)
            pooled = model(j, pool_items, pool_slots)
            for name in rewards:
                value[name] += goal.epsilon * pooled[name].reshape(k, m).mean(axis=1)
        for name in rewards:
            q_target[name][j, :k] = value[name]
    return OffPolicyInputs(propensity, target, reward, q_logged, q_target, filled)


#: What may be shown in a logged context (``(n_items,)``), e.g. in stock and not yet seen.
Allowed = Callable[[LoggedRequest], npt.NDArray[np.bool_]]


def stack_target(
    stack: Stack,
    objective: Objective | None = None,
    exploration: float = 0.0,
    pool: int = 40,
    allowed: Allowed | None = None,
) -> Callable[[LoggedRequest], Target]:
    """The stack as a candidate: its greedy list for the logged context (as long as the
    logged one) and, with ``exploration``, the ``pool`` candidates below it that exploring
    slots draw from."""

    def target(request: LoggedRequest) -> Target:
        n = request.rows.size
        mask = allowed(request) if allowed is not None else stack.allowed(request.state)
        ranked = stack.rank(
            request.state,
            n + pool,
            request.time,
            allowed=mask,
            objective=objective,
            exploration=0.0,
            query=request.query,
        )
        return Target(
            ranked.items[:n], exploration, ranked.items[n:] if exploration else ranked.items[:0]
        )

    return target


def stack_reward_model(stack: Stack, requests: Sequence[LoggedRequest]) -> RewardModel:
    """The stack's ranker as the reward model: p(click) and p(purchase) of an item at a
    slot, for the context of each logged request."""
    if stack.ranker is None:
        raise ModelError("the doubly robust estimate needs a bundle with a feedback ranker")
    ranker = stack.ranker
    cache: dict[int, dict[str, FloatMatrix]] = {}

    def model(
        j: int, items: npt.NDArray[np.int64], slots: npt.NDArray[np.int64]
    ) -> dict[str, npt.NDArray[np.float64]]:
        if j not in cache:
            cache.clear()
            scores = stack.sources.scores_batch([requests[j].state], len(stack.table))
            cache[j] = {name: values[0].astype(np.float64) for name, values in scores.items()}
        request = requests[j]
        rows = stack.builder.build(request.state, items, cache[j], request.time, request.query)  # type: ignore[arg-type]
        predicted = ranker.predict(rows, items, slots)
        return {
            "click": predicted.click.astype(np.float64),
            "purchase": predicted.purchase.astype(np.float64),
        }

    return model


def replay_candidate(
    log: EventArrays,
    table: ItemTable,
    target: Callable[[LoggedRequest], Target],
    reward_model: Stack | None = None,
    queries: dict[int, str] | None = None,
    since_us: int | None = None,
) -> tuple[OffPolicyInputs, list[LoggedRequest]]:
    """Replay every logged list (after ``since_us``) whose impressions carry propensities,
    ask the candidate what it would have shown, and assemble the estimators' inputs
    (rewards: ``click`` and ``purchase``)."""
    click, _, purchase = impression_labels(log)
    requests: list[LoggedRequest] = []
    for request in replay_requests(log, table, queries=queries):
        if since_us is not None and request.time < since_us:
            continue
        if np.isfinite(log.propensity[request.rows]).all():
            requests.append(request)
    if not requests:
        raise ValidationError(
            "events", 0, "propensity",
            "no logged list carries propensities; serve with ShopSense (it logs them) or "
            "send impressions with a propensity",
        )  # fmt: skip
    model = stack_reward_model(reward_model, requests) if reward_model is not None else None
    inputs = offpolicy_inputs(
        [log.item[r.rows] for r in requests],
        [log.propensity[r.rows] for r in requests],
        {
            "click": [click[r.rows].astype(np.float64) for r in requests],
            "purchase": [purchase[r.rows].astype(np.float64) for r in requests],
        },
        [target(r) for r in requests],
        model,
    )
    return inputs, requests
