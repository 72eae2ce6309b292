"""``shopsense simulate``: closed-loop traffic on the sample shop, policy against policy.

    shopsense simulate --sessions 6000 --policies random,popularity,als,stack
    shopsense simulate --explore-sessions 4000 --disagreement 1.5 --json
    shopsense simulate --experiment examples/experiment.toml  # an A/B test through the simulator
    shopsense simulate --aa 200 --policies popularity         # A/A false-positive rates
    shopsense simulate --url http://localhost:8000 --api-key KEY   # a running server too

The shop is generated from ``--products/--users/--seed`` exactly as ``shopsense generate``
makes it, so its hidden truth is known. Every policy learns from the same logged data: the
sample shop's log plus the ``--explore-sessions`` of exploration traffic (posted to the
server too with ``--url``, which then retrains on them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopsense import progress
from shopsense.commands import AddCommand, examples
from shopsense.config import Settings
from shopsense.errors import ConfigError

if TYPE_CHECKING:
    from shopsense.evaluation.http_policy import HttpPolicy
    from shopsense.evaluation.simulator import SimulatedShop, SimulationConfig
    from shopsense.experiments import Experiment


def _say(text: str) -> None:
    """The command's output (stdout; ``print`` is for the top-level CLI module)."""
    sys.stdout.write(text + "\n")


def register(add: AddCommand) -> None:
    """Add ``simulate``."""
    p = add(
        "simulate",
        cmd_simulate,
        "closed-loop shop simulator: compare policies, run A/B tests",
        examples(
            "shopsense simulate --sessions 6000 --policies random,popularity,als,stack",
            "shopsense simulate --explore-sessions 4000 --disagreement 1.5 --json",
            "shopsense simulate --experiment examples/experiment.toml",
            "shopsense simulate --aa 200 --policies popularity",
            "shopsense simulate --policies popularity,stack --plot policies.png",
        ),
    )
    p.add_argument("--sessions", type=int, default=4000, help="visits per policy")
    p.add_argument(
        "--policies",
        default="random,popularity,als,item_knn,stack",
        help="comma-separated: random, stack (the default stack) or a model name "
        "(popularity, als, item_knn, ...); with --url the server is added as 'served'",
    )
    p.add_argument("--products", type=int, default=2000, help="sample shop size")
    p.add_argument("--users", type=int, default=1000, help="sample shop shoppers")
    p.add_argument("--seed", type=int, default=7, help="the sample shop's seed")
    p.add_argument("--sim-seed", type=int, default=0, help="the simulated traffic's seed")
    p.add_argument(
        "--explore-sessions",
        type=int,
        default=0,
        help="visits of exploration traffic (random lists of retrieval candidates, with "
        "propensities) logged before the comparison; every policy learns from them",
    )
    p.add_argument(
        "--disagreement",
        type=float,
        default=0.0,
        help="utility units by which a third of the products click more and sell less (or "
        "the opposite) than browsing shows; 0: they agree",
    )
    p.add_argument("--no-search", action="store_true", help="recommendation lists only")
    p.add_argument(
        "--objective",
        choices=["click", "conversion", "revenue"],
        help="what the stack policy ranks for (default: its trained default, conversion)",
    )
    p.add_argument(
        "--experiment",
        metavar="FILE",
        help="run the experiments in FILE (JSON/TOML) instead of comparing --policies",
    )
    p.add_argument(
        "--aa", type=int, default=0, metavar="N", help="N A/A tests: false-positive rate"
    )
    p.add_argument(
        "--resamples", type=int, default=2000, help="bootstrap resamples for revenue tests"
    )
    p.add_argument(
        "--url",
        help="also play a running ShopSense server (it must hold the same sample shop; needs "
        "the api extra)",
    )
    p.add_argument("--api-key", help="X-API-Key for --url")
    p.add_argument(
        "--retrain-timeout",
        type=float,
        default=900.0,
        help="with --url and --explore-sessions: seconds to wait for the server's retraining",
    )
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="write a bar chart of the policies with 95%% CIs (needs the report extra; not "
        "with --experiment or --aa)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.evaluation.simulator import SimulatedShop, SimulationConfig
    from shopsense.experiments import load_experiments
    from shopsense.synth import ShopConfig, generate_shop

    if args.sessions < 1:
        raise ConfigError(f"--sessions must be at least 1, got {args.sessions}")
    if args.aa < 0:
        raise ConfigError(f"--aa must be a number of A/A runs (>= 1), got {args.aa}")
    if args.explore_sessions < 0 or args.disagreement < 0:
        raise ConfigError("--explore-sessions and --disagreement must be >= 0")
    if args.plot:
        if args.experiment or args.aa:
            option = "--experiment" if args.experiment else "--aa"
            raise ConfigError(
                f"--plot draws the comparison of --policies; it has no chart for {option} "
                "(drop --plot, or use --json for the numbers)"
            )
        from shopsense.evaluation.report import require_plotting

        require_plotting("--plot")
    experiments = load_experiments(Path(args.experiment)) if args.experiment else []
    shop = generate_shop(ShopConfig(n_products=args.products, n_users=args.users, seed=args.seed))
    world = SimulatedShop.from_shop(shop)
    config = SimulationConfig(
        sessions=args.sessions,
        seed=args.sim_seed,
        search=not args.no_search,
        disagreement=args.disagreement,
    )
    server = _server(args, world.logged.table.item_ids) if args.url else None
    try:
        return _simulate(args, world, config, experiments, server)
    finally:
        if server is not None:
            server.close()


def _server(args: argparse.Namespace, item_ids: list[str]) -> HttpPolicy:
    """The running server of ``--url`` as a policy (its HTTP client, httpx, is in the api
    extra)."""
    try:
        from shopsense.evaluation.http_policy import HttpPolicy
    except ImportError as exc:
        raise ConfigError(
            f"--url needs httpx ({exc}); install it with: pip install 'shopsense[api]'"
        ) from exc
    return HttpPolicy(args.url, item_ids, args.api_key)


def _simulate(
    args: argparse.Namespace,
    world: SimulatedShop,
    config: SimulationConfig,
    experiments: list[Experiment],
    server: HttpPolicy | None,
) -> int:
    """The policies of ``args`` (and ``server``) through the simulator, and the report."""
    from shopsense.evaluation.policies import Policy, build_policies, build_variant_policies
    from shopsense.evaluation.simulator import ShopSimulator, explore_shared
    from shopsense.training import train_stack

    if args.explore_sessions:
        progress.note(f"exploration: {args.explore_sessions} visits every policy learns from")
        world, explored, config = explore_shared(world, args.explore_sessions, config, train_stack)
        if server is not None:
            server.post(explored)
            progress.note("the server retrains on them")
            server.retrain(args.retrain_timeout)
    simulator = ShopSimulator(world, config)
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    policies: dict[str, Policy]
    if experiments and server is not None:
        policies = {"http": server}
    elif experiments:  # the variants say which policies to build; --policies is not used
        policies = build_variant_policies(world.logged, experiments, train=train_stack)
    else:
        names = names[:1] if args.aa else names  # an A/A test plays one policy
        if server is not None and args.aa:
            names = []
        policies = build_policies(world.logged, names, train=train_stack, objective=args.objective)
        if server is not None:
            policies["served"] = server
    if experiments:
        return _experiments(experiments, simulator, policies, args)
    if args.aa:
        return _aa(args.aa, world, next(iter(policies.values())), args)
    runs = {name: simulator.run(policy) for name, policy in policies.items()}
    results = {name: run.summary().as_dict() for name, run in runs.items()}
    # every policy against the server (or the first policy), visit by visit
    reference = "served" if "served" in runs else next(iter(runs))
    paired = {
        name: runs[reference].paired_difference(run)
        for name, run in runs.items()
        if name != reference
    }
    if args.plot:
        from shopsense.evaluation.simulator import plot_summaries

        plot_summaries(results, Path(args.plot))
    if args.json:
        body = {
            "sessions": args.sessions,
            "settings": _settings_of(args),
            "policies": results,
            "paired": {
                "reference": reference,
                "against": {name: diff.as_dict() for name, diff in paired.items()},
            },
        }
        _say(json.dumps(body, indent=1))
        return 0
    _say(_table(results))
    for name, diff in paired.items():
        low, high = diff.conversion_ci95
        _say(
            f"{reference} - {name}, same visits: conversion {100 * diff.conversion:+.2f} pts "
            f"[{100 * low:+.2f}, {100 * high:+.2f}]"
        )
    return 0


def _settings_of(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("products", "users", "seed", "sim_seed", "explore_sessions", "disagreement")
    return {k: getattr(args, k) for k in keys} | {"search": not args.no_search}


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


def _experiments(
    experiments: list[Any], simulator: Any, policies: dict[str, Any], args: argparse.Namespace
) -> int:
    """Each experiment through the simulator: users hashed into variants, one run."""
    from shopsense.evaluation.abtest import analyze, assign_variant
    from shopsense.evaluation.policies import variant_key

    out = []
    for experiment in experiments:
        if args.url:  # one server plays every arm; its own experiments decide what it shows
            arms = {v.name: policies["http"] for v in experiment.variants}
        else:
            arms = {v.name: policies[variant_key(v)] for v in experiment.variants}

        def route(user_id: str, e: Any = experiment, a: Any = arms) -> Any:
            return a[assign_variant(e, user_id)]

        report = analyze(experiment, simulator.run(route).per_user(), resamples=args.resamples)
        out.append(_report_dict(report))
    if args.json:
        _say(json.dumps({"sessions": args.sessions, "experiments": out}, indent=1))
    else:
        _say("\n\n".join(_experiment_table(report) for report in out))
    return 0


def _report_dict(report: Any) -> dict[str, Any]:
    import dataclasses

    body: dict[str, Any] = dataclasses.asdict(report)
    body["srm_ok"] = report.srm_ok
    return body


def _experiment_table(report: dict[str, Any]) -> str:
    def ci(pair: list[float], scale: float = 1.0) -> str:
        return f"[{pair[0] * scale:.2f}, {pair[1] * scale:.2f}]"

    srm = "ok" if report["srm_ok"] else "MISMATCH: do not trust this experiment"
    lines = [
        f"experiment {report['experiment']}  (SRM p = {report['srm_p_value']:.3f}, {srm})",
        f"{'variant':<12} {'users':>6} {'CTR %':>6} {'95% CI':>14} {'conv %':>6} "
        f"{'95% CI':>14} {'rev/user':>8} {'95% CI':>16}",
    ]
    for v in report["variants"]:
        lines.append(
            f"{v['name']:<12} {v['users']:6d} {v['ctr'] * 100:6.2f} {ci(v['ctr_ci95'], 100):>14} "
            f"{v['conversion_rate'] * 100:6.2f} {ci(v['conversion_ci95'], 100):>14} "
            f"{v['revenue_per_user']:8.2f} {ci(v['revenue_ci95']):>16}"
        )
    for name in report["conversion_tests"]:
        for label, key, scale in [
            ("conversion", "conversion_tests", 100.0),
            ("CTR", "ctr_tests", 100.0),
            ("revenue/user", "revenue_tests", 1.0),
        ]:
            t = report[key][name]
            unit = " pp" if scale == 100.0 else ""
            lines.append(
                f"{name} vs control, {label}: {t['difference'] * scale:+.2f}{unit} "
                f"{ci(t['ci95'], scale)}, p = {t['p_value']:.4f}"
            )
    return "\n".join(lines)


def _aa(runs: int, world: Any, policy: Any, args: argparse.Namespace) -> int:
    """``runs`` A/A tests of one policy: each a fresh traffic seed and a fresh user split
    (a new hash salt), analysed like any experiment; how often does each test reject?"""
    from shopsense.evaluation.abtest import analyze, rejection_rates
    from shopsense.evaluation.simulator import ShopSimulator, SimulationConfig
    from shopsense.experiments import Experiment, Variant

    reports = []
    for run in progress.track(range(runs), "A/A runs", unit="runs"):
        config = SimulationConfig(
            sessions=args.sessions,
            seed=args.sim_seed + 1 + run,
            search=not args.no_search,
            disagreement=args.disagreement,
        )
        result = ShopSimulator(world, config).run(policy)
        experiment = Experiment(
            name="aa",
            salt=f"aa-{args.sim_seed}-{run}",
            variants=[Variant(name="a", policy=policy.name), Variant(name="b", policy=policy.name)],
        )
        reports.append(analyze(experiment, result.per_user(), resamples=args.resamples))
    rates = rejection_rates(reports)
    users = [sum(v.users for v in r.variants) for r in reports]
    body = {
        "policy": policy.name,
        "runs": runs,
        "sessions": args.sessions,
        "mean_users": sum(users) / max(len(users), 1),
        "alpha": 0.05,
        "rejection_rates": {
            name: {
                "rejections": r.rejections,
                "rate": r.rate,
                "ci95": list(r.ci95),
            }
            for name, r in rates.items()
        },
    }
    if args.json:
        _say(json.dumps(body, indent=1))
        return 0
    _say(f"{runs} A/A runs of {policy.name}, {args.sessions} sessions each (nominal 5%; SRM 0.1%)")
    for name, r in rates.items():
        _say(
            f"  {name:<10} rejected {r.rejections:4d}/{runs}  = {r.rate * 100:5.1f}%  "
            f"95% CI [{r.ci95[0] * 100:.1f}, {r.ci95[1] * 100:.1f}]%"
        )
    return 0
