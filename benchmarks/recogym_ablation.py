"""Which part of ShopSense's stack wins or loses in RecoGym: one setting, several variants.

    python benchmarks/recogym_ablation.py --seed 3 --flips 0 --test-users 300 \\
        --variants 'ranker|blend|model:mult_dae|config:{"ranker": {"item_l2": 1e9}}'

The protocol of ``recogym_bench.py`` (the same logs, a copy of the environment after them
for every policy, expected CTR and share of the headroom between the best fixed product and
the oracle), for variants of the default stack, separated by ``|``:

- ``ranker``: the default stack (``shopsense.train``, objective click), as the benchmark;
- ``blend``: the same trained stack serving its retrieval blend (ranker off);
- ``model:NAME``: the same stack serving one of the retrieval models it kept;
- ``config:JSON``: a stack trained with these :class:`shopsense.StackConfig` fields
  changed, e.g. ``{"ranker": {"item_l2": 1e9}}`` (no item effects) or
  ``{"ranker": {"prior_features": ["*.score_z"]}}``.

Every trained stack's held-out report (the ranker against the smoothed item click rate
and logistic regression, AUC and log-loss) is kept beside its policy value: a lower
held-out loss need not make a better top product. Results:
``benchmarks/results/recogym_ablation_s{seed}_f{flips}.json``.
"""

from __future__ import annotations

import argparse
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    env_args, events, after_logs = logged(args.seed, args.flips, args.train_users)
    on_path()
    import harness  # type: ignore[import-not-found]
    import numpy as np
    import oracle_agents  # type: ignore[import-not-found]
    from example_agents import EventsAdapter  # type: ignore[import-not-found]
    from shopsense_agent import as_events  # type: ignore[import-not-found]

    import shopsense

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

    for name in ["oracle", "best_static_true", *args.variants.split("|")]:
        agent, stack = policy(name)
        row, mean_p = score_policy(agent, events, after_logs, args.test_users, first)
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
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not inside_recogym(__file__, args.inside):
        return
    began = time.perf_counter()
    result = run(args)
    out = args.out or RESULTS / f"recogym_ablation_s{args.seed}_f{args.flips}.json"
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
