"""Which part of ShopSense's stack wins or loses in RecoGym: one setting, several variants.

    python benchmarks/recogym_ablation.py --seed 3 --flips 0 --test-users 300 \\
        --variants 'ranker|blend|model:mult_dae|config:{"ranker": {"item_l2": 1e9}}'
    python benchmarks/recogym_ablation.py --paired --seed 1 --flips 5 --variants 'ranker|blend'

The protocol of ``recogym_bench.py`` (the same logs, a copy of the environment after them
for every policy, expected CTR and share of the headroom between the best fixed product and
the oracle), for variants of the default stack, separated by ``|``:

- ``ranker``: the default stack (``shopsense.train``, objective click), as the benchmark;
- ``blend``: the same trained stack serving its retrieval blend (ranker off);
- ``model:NAME``: the same stack serving one of the retrieval models it kept;
- ``config:JSON``: a stack trained with these :class:`shopsense.StackConfig` fields
  changed, e.g. ``{"ranker": {"item_l2": 1e9}}`` (no item effects) or
  ``{"ranker": {"prior_features": ["*.score_z"]}}``.

``--paired`` judges every variant on the same recorded states instead of simulating each
one: the test shoppers are walked once (the oracle's actions), and at the first step of each
bandit streak their organic views so far and every product's true click probability are
kept, weighted by the streak's length. A variant's value is the mean true click probability
of its top product over those states. Differences between variants then carry no
simulation noise (each policy's own run differs in its random draws), at the price of an
approximation: a variant sees organic views only, not its own skipped recommendations.

``--reuse-rows``: variants that change only the ranker's settings (``config:`` with
``ranker`` alone) reuse the cross-fitted ranker rows of the first stack trained with the
same retrieval settings (the rows do not depend on the ranker): about a third less time
each on RecoGym.

Every trained stack's held-out report (the ranker against the smoothed item click rate
and logistic regression, AUC and log-loss) is kept beside its policy value: a lower
held-out loss need not make a better top product. Results:
``benchmarks/results/recogym_ablation_s{seed}_f{flips}.json``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from recogym_bench import (
    RESULTS,
    headroom,
    inside_recogym,
    logged,
    on_path,
    score_policy,
)


def held_out(stack: Any) -> dict[str, Any]:
    """The stack's ranker report on held-out impressions: AUC and log-loss per model."""
    tasks = stack.report.get("ranker", {}).get("tasks", {}).get("click", {})
    return {
        name: {"auc": row["auc"], "log_loss": row["log_loss"]}
        for name, row in tasks.items()
        if isinstance(row, dict) and "auc" in row
    }


Recorded = tuple[list[list[dict[str, Any]]], Any, Any]


def recorded_states(after_logs: Any, test_users: int, first: int) -> Recorded:
    """The test shoppers' states (``--paired``, module doc): their organic views so far,
    the true click probability of every product ``(states, products)`` and each state's
    weight (the length of its bandit streak)."""
    from copy import deepcopy

    import numpy as np
    import oracle_agents

    env = deepcopy(after_logs)
    histories: list[list[dict[str, Any]]] = []
    truth: list[Any] = []
    weight: list[int] = []
    for k in range(test_users):
        env.reset(first + k)
        observation, _, done, _ = env.step(None)
        views: list[dict[str, Any]] = []
        fresh = True
        while not done:
            new = [
                {"user": first + k, "item": int(s["v"]), "kind": "view", "t": float(s["t"])}
                for s in observation.sessions() or []
            ]
            views += new
            p = oracle_agents.true_ctr(env)
            if new or fresh:
                histories.append(list(views))
                truth.append(p)
                weight.append(1)
                fresh = False
            else:
                weight[-1] += 1
            observation, _, done, _ = env.step(int(np.argmax(p)))
    return histories, np.array(truth), np.array(weight, np.float64)


def paired_row(
    name: str, stack: Any, best_static: int | None, recorded: Recorded, as_events: Any
) -> tuple[dict[str, Any], Any]:
    """A variant's value on the recorded states (``--paired``) and the mean true click
    probability of every product over them."""
    import numpy as np

    histories, truth, weight = recorded
    began = time.perf_counter()
    if name == "oracle":
        chosen = truth.argmax(axis=1)
    elif name == "best_static_true":
        chosen = np.full(len(histories), best_static)
    else:
        chosen = np.array(
            [
                int(stack.recommend(as_events(h), n=1, objective="click").item_ids[0])
                for h in histories
            ]
        )
    value = truth[np.arange(len(histories)), chosen]
    row = {
        "expected_ctr": float(weight @ value / weight.sum()),
        "expected_ctr_se": 0.0,  # no simulation noise between variants: the same states
        "states": len(histories),
        "wall_s": round(time.perf_counter() - began, 1),
    }
    return row, weight @ truth / weight.sum()


def reuse_rows() -> None:
    """``--reuse-rows`` (module doc): the stack's cross-fitting keeps its rows per retrieval
    setting (the config without its ranker and serving fields, the sources, the blend)."""
    import shopsense.training as training

    fitted = training.cross_fitted_rows
    signature = inspect.signature(fitted)
    kept: dict[str, Any] = {}

    def cross_fitted_rows(*args: Any, **kwargs: Any) -> Any:
        named = signature.bind(*args, **kwargs).arguments  # by name, however it is called
        config = named["config"]
        retrieval = replace(config, ranker={}, objective="click", exploration=0.0).as_json()
        key = json.dumps(
            [list(named["names"]), retrieval, dict(named["blend"])], sort_keys=True, default=str
        )
        if key not in kept:
            kept[key] = fitted(*args, **kwargs)
        return kept[key]

    training.cross_fitted_rows = cross_fitted_rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    env_args, events, after_logs = logged(args.seed, args.flips, args.train_users)
    on_path()
    import harness  # type: ignore[import-not-found]
    import numpy as np
    import oracle_agents  # type: ignore[import-not-found]
    from example_agents import EventsAdapter  # type: ignore[import-not-found]
    from shopsense_agent import as_events  # type: ignore[import-not-found]

    import shopsense

    if args.reuse_rows:
        reuse_rows()

    def train(**changes: Any) -> Any:
        config = shopsense.StackConfig(**({"objective": "click"} | changes))
        return shopsense.train(shopsense.Dataset.from_events(as_events(events)), config)

    class Served(EventsAdapter):  # type: ignore[misc]
        """Recommends the top product of a given (already trained) stack."""

        stack: Any = None

        def fit(self, events: list[dict[str, Any]]) -> None:
            pass

        def score(self, history: list[dict[str, Any]]) -> Any:
            top = self.stack.recommend(as_events(history), n=1, objective="click").item_ids
            scores = np.zeros(self.num_products)
            scores[int(top[0])] = 1.0
            return scores

    first = 100 + args.train_users
    out: dict[str, Any] = {"seed": args.seed, "flips": args.flips, "policies": {}}
    default: Any = None

    def policy(name: str) -> tuple[Any, Any]:
        """The agent for a variant name and the stack it serves (None for references)."""
        nonlocal default
        if name == "oracle":
            cls, agent_args = oracle_agents.OracleAgent, {}
        elif name == "best_static_true":
            cls, agent_args = oracle_agents.FixedItemAgent, {"item": out["best_static"]}
        else:
            cls, agent_args = Served, {}
        agent = harness.build_agent(cls, env_args, harness.default_args_for(cls), agent_args)
        if cls is not Served:
            return agent, None
        if name.startswith("config:"):
            stack = train(**json.loads(name.removeprefix("config:")))
        else:
            default = default if default is not None else train()
            stack = default
            if name == "blend":
                stack = replace(default, ranker=None)
            elif name.startswith("model:"):
                stack = replace(default, ranker=None, blend={name.removeprefix("model:"): 1.0})
            elif name != "ranker":
                raise SystemExit(f"unknown variant {name!r}")
        agent.stack = stack
        return agent, stack

    recorded = recorded_states(after_logs, args.test_users, first) if args.paired else None
    for name in ["oracle", "best_static_true", *args.variants.split("|")]:
        agent, stack = policy(name)
        if recorded is None:
            row, mean_p = score_policy(agent, events, after_logs, args.test_users, first)
        else:
            row, mean_p = paired_row(name, stack, out.get("best_static"), recorded, as_events)
        if name == "oracle":
            out["best_static"] = int(np.argmax(mean_p))
        if stack is not None:
            row["blend"] = stack.blend
            row["held_out"] = held_out(stack)
            if stack.ranker is not None:
                row["ranker_selection"] = stack.ranker.selection_
        policies = out["policies"]
        policies[name] = row
        if "best_static_true" in policies:
            fixed = policies["best_static_true"]["expected_ctr"]
            row["headroom"] = headroom(
                row["expected_ctr"], fixed, policies["oracle"]["expected_ctr"]
            )
        share = f"{100 * row['headroom']:.0f}%" if "headroom" in row else "-"
        print(
            f"seed {args.seed} flips {args.flips} {name}: E[CTR] {100 * row['expected_ctr']:.4f}% "
            f"(se {100 * row['expected_ctr_se']:.4f}), headroom {share}, "
            f"held-out {row.get('held_out', {})}",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--flips", type=int, default=0)
    parser.add_argument("--variants", default="ranker|blend")
    parser.add_argument("--train-users", type=int, default=1000)
    parser.add_argument("--test-users", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--paired", action="store_true", help="judge every variant on the same recorded states"
    )
    parser.add_argument(
        "--reuse-rows",
        action="store_true",
        help="ranker-only variants reuse the default stack's cross-fitted rows",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not inside_recogym(__file__, args.inside):
        return
    began = time.perf_counter()
    result = run(args)
    paired = "_paired" if args.paired else ""
    out = args.out or RESULTS / f"recogym_ablation_s{args.seed}_f{args.flips}{paired}.json"
    body = {
        "settings": vars(args) | {"out": str(out)},
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count()},
        "wall_s": round(time.perf_counter() - began, 1),
        "result": result,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(body, indent=1, default=float))


if __name__ == "__main__":
    main()
