"""``shopsense simulate``: closed-loop traffic on the sample shop, policy against policy.

    shopsense simulate --sessions 6000 --policies random,popularity,als,sasrec,full_stack
    shopsense simulate --sessions 4000 --json
    shopsense simulate --experiment experiments.toml       # an A/B test through the simulator
    shopsense simulate --aa 200 --policies popularity      # measure the A/A false-positive rate
    shopsense simulate --url http://localhost:8000 --api-key KEY   # a running server as policy

The shop is generated from ``--products/--users/--seed`` exactly as ``shopsense generate``
makes it, so its hidden truth is known.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from shopsense.commands import AddCommand
from shopsense.config import Settings
from shopsense.errors import ConfigError


def _say(text: str) -> None:
    """The command's output (stdout; ``print`` is for the top-level CLI module)."""
    sys.stdout.write(text + "\n")


def register(add: AddCommand) -> None:
    """Add ``simulate``."""
    p = add("simulate", cmd_simulate, "closed-loop shop simulator: compare policies, run A/B tests")
    p.add_argument("--sessions", type=int, default=4000, help="visits per policy")
    p.add_argument(
        "--policies",
        default="random,popularity,als,sasrec,full_stack",
        help="comma-separated: random, a model name (popularity, als, sasrec, ...), full_stack",
    )
    p.add_argument("--products", type=int, default=2000)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7, help="the sample shop's seed")
    p.add_argument("--sim-seed", type=int, default=0, help="the simulated traffic's seed")
    p.add_argument(
        "--explore-sessions", type=int, default=8000, help="logged visits the ranker learns from"
    )
    p.add_argument(
        "--objective", default="conversions", choices=["clicks", "conversions", "revenue"]
    )
    p.add_argument("--experiment", metavar="FILE", help="run the experiments in FILE (JSON/TOML)")
    p.add_argument(
        "--aa", type=int, default=0, metavar="N", help="N A/A tests: false-positive rate"
    )
    p.add_argument("--url", help="use a running ShopSense server as the policy")
    p.add_argument("--api-key", help="X-API-Key for --url")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart with 95%% CIs")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.evaluation.policies import HttpPolicy, SimulationWorld, build_policies
    from shopsense.evaluation.simulator import ShopSimulator, SimulationConfig
    from shopsense.synth import ShopConfig, generate_shop

    if args.sessions < 1:
        raise ConfigError(f"--sessions must be at least 1, got {args.sessions}")
    shop = generate_shop(ShopConfig(n_products=args.products, n_users=args.users, seed=args.seed))
    world = SimulationWorld.from_shop(shop)
    config = SimulationConfig(sessions=args.sessions, seed=args.sim_seed)
    simulator = ShopSimulator(world.truth, world.table, world.states, config)
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    if args.url:
        http = HttpPolicy(args.url, world.table.item_ids, args.api_key)
        policies: dict[str, Any] = {"http": http}
    else:
        policies = dict(
            build_policies(
                world, names, explore_sessions=args.explore_sessions, objective=args.objective
            )
        )
    if args.experiment:
        return _experiments(Path(args.experiment), simulator, policies, args.json)
    if args.aa:
        return _aa(args.aa, world, policies, args)
    results = {name: simulator.run(policy).summary().as_dict() for name, policy in policies.items()}
    if args.plot:
        from shopsense.evaluation.simulator import plot_summaries

        plot_summaries(results, Path(args.plot))
    if args.json:
        _say(json.dumps({"sessions": args.sessions, "policies": results}, indent=1))
        return 0
    _say(_table(results))
    return 0


def _table(results: dict[str, dict[str, Any]]) -> str:
    def ci(pair: list[float], scale: float = 1.0, digits: int = 2) -> str:
        return f"[{pair[0] * scale:.{digits}f}, {pair[1] * scale:.{digits}f}]"

    lines = [
        f"{'policy':<12} {'CTR %':>7} {'95% CI':>16} {'conv %':>7} {'95% CI':>16} "
        f"{'rev/session':>11} {'95% CI':>18}"
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<12} {r['ctr'] * 100:7.2f} {ci(r['ctr_ci95'], 100):>16} "
            f"{r['conversion_rate'] * 100:7.2f} {ci(r['conversion_ci95'], 100):>16} "
            f"{r['revenue_per_session']:11.2f} {ci(r['revenue_ci95']):>18}"
        )
    return "\n".join(lines)


def _experiments(path: Path, simulator: Any, policies: dict[str, Any], as_json: bool) -> int:
    from shopsense.evaluation.abtest import analyze, assign_variant
    from shopsense.experiments import load_experiments

    out = []
    for experiment in load_experiments(path):
        missing = [v.policy for v in experiment.variants if v.policy not in policies]
        if missing:
            raise ConfigError(
                f"experiment {experiment.name!r} uses policies {missing}; add them to --policies"
            )
        arms = {v.name: policies[v.policy] for v in experiment.variants}

        def route(user_id: str, e: Any = experiment, a: Any = arms) -> Any:
            return a[assign_variant(e, user_id)]

        out.append(_report_dict(analyze(experiment, simulator.run(route).per_user())))
    if as_json:
        _say(json.dumps({"experiments": out}, indent=1))
    else:
        for report in out:
            _say(json.dumps(report, indent=1))
    return 0


def _report_dict(report: Any) -> dict[str, Any]:
    import dataclasses

    body: dict[str, Any] = dataclasses.asdict(report)
    body["srm_ok"] = report.srm_ok
    return body


def _aa(runs: int, world: Any, policies: dict[str, Any], args: argparse.Namespace) -> int:
    """``runs`` A/A tests: a fresh traffic seed and a fresh split each; count p < 0.05."""
    from shopsense.evaluation.abtest import analyze
    from shopsense.evaluation.simulator import ShopSimulator, SimulationConfig
    from shopsense.experiments import Experiment, Variant

    policy = next(iter(policies.values()))
    significant = 0
    for run in range(runs):
        config = SimulationConfig(sessions=args.sessions, seed=args.sim_seed + 1 + run)
        result = ShopSimulator(world.truth, world.table, world.states, config).run(policy)
        experiment = Experiment(name=f"aa-{run}", variants=[Variant(name="a"), Variant(name="b")])
        report = analyze(experiment, result.per_user(), resamples=200)
        significant += int(report.conversion_tests["b"].significant)
    rate = significant / runs
    half = 1.96 * math.sqrt(rate * (1 - rate) / runs)
    body = {
        "runs": runs,
        "false_positives": significant,
        "rate": rate,
        "ci95": [rate - half, rate + half],
    }
    _say(
        json.dumps(body)
        if args.json
        else f"A/A false-positive rate: {rate:.3f} ({significant}/{runs}), 95% CI ±{half:.3f}"
    )
    return 0
