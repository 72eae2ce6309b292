"""Closed-loop simulator, in process: conversion of the default stack and single models.

    .venv/bin/python benchmarks/simulate_policies.py --users 1000 --products 2000 \
        --sessions 6000 --explore-sessions 6000 --disagreement 1.5

Every policy learns from the same log: the sample shop's own plus ``--explore-sessions``
visits of exploration traffic (random lists of retrieval candidates, propensities logged).
Prints a table (per-session CTR, conversion rate, revenue, 95% CIs) and the stack's
conversion lift over each policy; writes JSON (and a plot) next to ``--plot``. The served
path (the same stack behind the HTTP server) is ``benchmarks/simulate_served.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from shopsense.evaluation.policies import POLICIES, build_policies
from shopsense.evaluation.simulator import (
    ShopSimulator,
    SimulatedShop,
    SimulationConfig,
    explore_shared,
    plot_summaries,
)
from shopsense.synth import ShopConfig, generate_shop
from shopsense.training import train_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sessions", type=int, default=6000)
    parser.add_argument("--explore-sessions", type=int, default=6000)
    parser.add_argument("--disagreement", type=float, default=0.0)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--plot", default="benchmarks/results/simulate.png")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    began = time.perf_counter()
    shop = generate_shop(ShopConfig(n_users=args.users, n_products=args.products, seed=args.seed))
    world = SimulatedShop.from_shop(shop)
    config = SimulationConfig(sessions=args.sessions, disagreement=args.disagreement)
    if args.explore_sessions:
        world, _, config = explore_shared(world, args.explore_sessions, config, train_stack)
    policies = build_policies(world.logged, args.policies.split(","), train=train_stack)
    simulator = ShopSimulator(world, config)
    results: dict[str, dict[str, Any]] = {}
    for name, policy in policies.items():
        results[name] = simulator.run(policy).summary().as_dict()
        print(name, json.dumps(results[name]), flush=True)
    print(f"\n{'policy':<12} {'CTR %':>6} {'conv %':>7} {'conv 95% CI':>16} {'rev/session':>11}")
    for name, r in results.items():
        lo, hi = r["conversion_ci95"]
        print(
            f"{name:<12} {r['ctr'] * 100:6.2f} {r['conversion_rate'] * 100:7.2f} "
            f"[{lo * 100:5.2f}, {hi * 100:5.2f}] {r['revenue_per_session']:11.2f}"
        )
    if "stack" in results:
        top = results["stack"]["conversion_rate"]
        for name, r in results.items():
            if name != "stack" and r["conversion_rate"] > 0:
                print(f"stack lift over {name}: {top / r['conversion_rate'] - 1:+.1%}")
    plot_summaries(results, Path(args.plot))
    Path(args.plot).with_suffix(".json").write_text(
        json.dumps({"args": vars(args), "policies": results}, indent=1)
    )
    print(f"done in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
