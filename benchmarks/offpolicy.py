"""Off-policy estimates checked against on-policy truth in the shop simulator.

    python benchmarks/offpolicy.py                     # sample shop 2000 x 1000, ~15 min
    python benchmarks/offpolicy.py --log-sessions 2000 --eval-sessions 2000   # a quick look

1. A logging policy serves ``--log-sessions`` visits of one list each (every visit starts
   from the shopper's logged state, so contexts do not depend on the policy): a random
   order of the retrieval blend's top 50 candidates or, for a quarter of the lists, of
   every allowed product; each impression is logged with its exact propensity.
2. Five candidate policies are estimated from those logs (IPS, SNIPS, doubly robust with
   the default stack's ranker as the reward model): popularity, ALS, the stack ranking for
   clicks, the stack ranking for conversion, and the stack exploring 10% of its slots.
3. Each candidate is then run on-policy for ``--eval-sessions`` visits (other arrivals,
   same settings): its true clicks and purchases per list, with 95% intervals.

Reports whether each estimate's interval holds the on-policy value; writes
``benchmarks/results/offpolicy.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from shopsense.domain import Event
from shopsense.evaluation.offpolicy import (
    Target,
    estimates,
    offpolicy_inputs,
    stack_reward_model,
    stack_target,
)
from shopsense.evaluation.policies import (
    ExplorationPolicy,
    Policy,
    Request,
    StackPolicy,
    build_policies,
)
from shopsense.evaluation.simulator import ShopSimulator, SimulatedShop, SimulationConfig
from shopsense.ranking.logged import LoggedRequest
from shopsense.ranking.stack import StackConfig
from shopsense.synth import ShopConfig, generate_shop
from shopsense.training import train_stack

RESULTS = Path(__file__).parent / "results" / "offpolicy.json"


def simulator_allowed(world: SimulatedShop) -> Any:
    """What the simulator lets a policy show: in stock, launched, not in the history."""
    table = world.logged.table

    def allowed(request: LoggedRequest) -> np.ndarray:
        mask = table.in_stock & (table.created_us <= request.time)
        mask[np.asarray(request.state.items, np.int64)] = False
        return mask

    return allowed


def policy_target(policy: Policy, world: SimulatedShop, n: int) -> Any:
    """A greedy simulator policy as an off-policy candidate."""
    allowed = simulator_allowed(world)

    def target(request: LoggedRequest) -> Target:
        ask = Request("", request.state, request.time, n, allowed(request))
        return Target(policy.recommend([ask])[0].items)

    return target


def on_policy(simulator: ShopSimulator, policy: Policy) -> dict[str, Any]:
    """Clicks and purchases per list when the policy serves (one list per visit)."""
    result = simulator.run(policy)
    out = {}
    for name, values in (("click", result.clicks), ("purchase", result.purchases)):
        n = values.size
        se = float(values.std(ddof=1) / np.sqrt(n))
        mean = float(values.mean())
        out[name] = {"value": mean, "se": se, "ci95": [mean - 1.96 * se, mean + 1.96 * se]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log-sessions", type=int, default=8000)
    parser.add_argument("--eval-sessions", type=int, default=8000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.perf_counter()
    shop = generate_shop(ShopConfig(n_products=args.products, n_users=args.users, seed=args.seed))
    world = SimulatedShop.from_shop(shop)
    base = SimulationConfig(max_lists=1, carry_over=False, search=False)
    # The candidates learn from the shop's own log (the sample shop's browse and search lists).
    stack = train_stack(world.logged.dataset(), StackConfig(item_tower=False))
    blend_only = train_stack(
        world.logged.dataset(), StackConfig(min_impressions=2**62, item_tower=False)
    )
    singles = build_policies(world.logged, ["popularity", "als"], train=train_stack)
    candidates: dict[str, tuple[Policy, Any]] = {
        "popularity": (singles["popularity"], policy_target(singles["popularity"], world, 10)),
        "als": (singles["als"], policy_target(singles["als"], world, 10)),
    }
    allowed = simulator_allowed(world)
    for name, objective, epsilon in (
        ("stack_click", "click", 0.0),
        ("stack_conversion", "conversion", 0.0),
        ("stack_explore_10pct", "click", 0.1),
    ):
        policy = StackPolicy(stack, world.logged, objective, epsilon, seed=3)  # type: ignore[arg-type]
        candidates[name] = (policy, stack_target(stack, objective, epsilon, 40, allowed))  # type: ignore[arg-type]
    print(f"logging {args.log_sessions} lists with the exploring policy", flush=True)
    events: list[Event] = []
    recorder = Recorder(ExplorationPolicy(blend_only, pool=50, uniform=0.25, seed=1))
    log_config = dataclasses.replace(base, sessions=args.log_sessions, seed=1)
    ShopSimulator(world, log_config).run(recorder, sink=events.extend)
    requests, items, propensity, rewards = recorder.logged(events)
    model = stack_reward_model(stack, requests)
    eval_config = dataclasses.replace(base, sessions=args.eval_sessions, seed=2)
    simulator = ShopSimulator(world, eval_config)
    rows: dict[str, Any] = {}
    for name, (policy, target) in candidates.items():
        t0 = time.perf_counter()
        inputs = offpolicy_inputs(items, propensity, rewards, [target(r) for r in requests], model)
        truth = on_policy(simulator, policy)
        row: dict[str, Any] = {"on_policy": truth, "estimates": {}}
        for reward in ("click", "purchase"):
            row["estimates"][reward] = {}
            for estimator, e in estimates(inputs, reward).items():
                low, high = e.ci95
                covered = low <= truth[reward]["value"] <= high
                row["estimates"][reward][estimator] = {**e.as_dict(), "covers": covered}
        rows[name] = row
        summary = ", ".join(
            f"{r}/{k} {v['value']:.4f} [{v['ci95'][0]:.4f}, {v['ci95'][1]:.4f}]"
            f"{'' if v['covers'] else ' MISSES'}"
            for r, per in row["estimates"].items()
            for k, v in per.items()
        )
        print(f"{name}: on-policy clicks {truth['click']['value']:.4f}, purchases "
              f"{truth['purchase']['value']:.4f}; {summary} ({time.perf_counter() - t0:.0f} s)",
              flush=True)  # fmt: skip
    body = {
        "settings": vars(args) | {"out": str(args.out)},
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count()},
        "logged_lists": len(requests),
        "logged_per_list": {r: float(np.mean([v.sum() for v in rewards[r]])) for r in rewards},
        "wall_s": round(time.perf_counter() - began, 1),
        "policies": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(body, indent=1))


class Recorder:
    """Wraps the logging policy: keeps each request's context and what was shown."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.name = policy.name
        self.lists: list[tuple[Request, Any]] = []

    def recommend(self, requests: Any) -> list[Any]:
        answers = self.policy.recommend(requests)
        for request, shown in zip(requests, answers, strict=True):
            frozen = dataclasses.replace(request, state=request.state.snapshot())
            self.lists.append((frozen, shown))
        return answers

    def observe(self, events: Any) -> None:
        self.policy.observe(events)

    def logged(
        self, events: list[Event]
    ) -> tuple[list[LoggedRequest], list[Any], list[Any], dict[str, list[Any]]]:
        """The logged contexts, items, propensities and per-slot click / purchase rewards."""
        hit: dict[str, set[tuple[str, int]]] = {"click": set(), "purchase": set()}
        for e in events:
            if e.kind.value in hit and e.request_id is not None and e.position is not None:
                hit[e.kind.value].add((e.request_id, int(e.position)))
        requests, items, propensity = [], [], []
        rewards: dict[str, list[Any]] = {"click": [], "purchase": []}
        for request, shown in self.lists:
            k = shown.items.size
            if k == 0:
                continue
            requests.append(
                LoggedRequest(request.state, np.arange(k), request.now_us, request.query)
            )
            items.append(shown.items)
            propensity.append(shown.propensity)
            for name in rewards:
                rewards[name].append(
                    np.array([(request.request_id, p) in hit[name] for p in range(k)], float)
                )
        return requests, items, propensity, rewards


if __name__ == "__main__":
    main()
