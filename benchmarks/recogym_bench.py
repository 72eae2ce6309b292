"""ShopSense's default stack in RecoGym, an external shop simulator (Criteo), beside references.

    python benchmarks/recogym_bench.py                       # development settings, ~30 min
    python benchmarks/recogym_bench.py --seeds 1 --flips 0 --test-users 300   # a quick look

Builds its own RecoGym virtualenv (``.venv-recogym/``, recipe of ``../shared/recogym``) when it
is missing, then runs the protocol of ``../shared/recogym/run_oracle.py`` for every setting:
RecoEnv1 with 100 products, 1,000 shoppers logged by RecoGym's uniformly random policy (plus
100 organic-only shoppers) for training, 1,000 fresh test shoppers, every policy on a copy
of the environment taken after the training logs. Each policy is scored by its **expected
CTR** (the true click probability of what it showed) and its **share of the headroom**
between the best fixed product in hindsight and the oracle (the best product for each
shopper at each step, read from the simulator's hidden state).

ShopSense enters through its public Python API only
(``benchmarks/recogym_agents/shopsense_agent.py``:
events -> ``shopsense.Dataset`` -> ``shopsense.train`` -> ``Stack.recommend``). References:
the most-viewed product (popularity), the most clicked product, ``CoocAgent`` (organic
co-occurrence), RecoGym's ``BanditCount`` and ``BanditMFSquare``. Results:
``benchmarks/results/recogym.json`` and ``recogym.md``; the ShopSense stack's own report on
held-out logged impressions (ranker vs its baselines) is kept beside each setting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_RECOGYM = ROOT.parent / "shared" / "recogym"
VENV = ROOT / ".venv-recogym"
RESULTS = ROOT / "benchmarks" / "results"
REFERENCES = {
    "popularity": "references:MostViewedAgent",
    "most_clicked": "oracle_agents:MostClickedItemAgent",
    "cooc": "example_agents:CoocAgent",
    "bandit_count": "recogym.agents:BanditCount",
    "bandit_mf_square": "recogym.agents:BanditMFSquare",
}
SHOPSENSE = "shopsense_agent:ShopSenseAgent"
#: Reads the simulator's static parameters (not the shopper's state): a ceiling, not a rival.
CEILING = "ceiling:HistoryCeilingAgent"
POLICIES = ("oracle", "best_static_true", "history_ceiling", *REFERENCES, "shopsense")


def ensure_venv() -> Path:
    """The RecoGym virtualenv, built the way ../shared/recogym/README.md says when missing."""
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"building {VENV} (about a minute)", file=sys.stderr)
    download = VENV / "download"

    def pip(*args: str) -> None:
        subprocess.run([str(python), "-m", "pip", "-q", *args], check=True)

    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip("install", "--upgrade", "pip")
    pip("download", "recogym==0.1.3.0", "--no-deps", "-d", str(download))
    wheel = next(download.glob("recogym-0.1.3.0-*.whl"))
    pip("install", str(wheel), "--no-deps")
    pip("install", "torch==2.13.0", "numpy", "scipy", "pandas", "gym==0.26.2", "numba", "tqdm",
        "matplotlib", "scikit-learn")  # fmt: skip
    pip("install", "-e", f"{ROOT}[ml]")
    return python


def inside_recogym(script: str, inside: bool) -> bool:
    """Whether this process is the one inside the RecoGym virtualenv (recogym importable,
    shimmed). If not, runs ``script`` there (the virtualenv built when missing) with
    ``--inside`` and this command line's arguments, and returns False."""
    if not inside:
        python = ensure_venv()
        env = os.environ | {"OPENBLAS_NUM_THREADS": "1"}
        subprocess.run([str(python), script, "--inside", *sys.argv[1:]], check=True, env=env)
        return False
    on_path()
    import compat  # type: ignore[import-not-found]  # noqa: F401  (before recogym)

    return True


def headroom(value: float, fixed: float, oracle: float) -> float:
    return (value - fixed) / (oracle - fixed) if oracle > fixed else float("nan")


def on_path() -> None:
    """RecoGym's harness and the agents of this folder on ``sys.path`` (inside its venv)."""
    for folder in (ROOT / "benchmarks" / "recogym_agents", SHARED_RECOGYM):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def logged(seed: int, flips: int, train_users: int) -> tuple[Any, list[dict[str, Any]], Any]:
    """The setting's environment arguments, its training logs as events, and the
    environment right after them (what every policy is tested on a copy of)."""
    on_path()
    from copy import deepcopy

    import harness  # type: ignore[import-not-found]
    import numpy as np
    import torch

    torch.manual_seed(0)
    np.random.seed(0)
    env, env_args = harness.build_env(100, seed, number_of_flips=flips)
    logs = env.generate_logs(num_offline_users=train_users, num_organic_offline_users=100)
    return env_args, harness.logs_to_events(logs), deepcopy(env)


def score_policy(
    agent: Any, events: list[dict[str, Any]], after_logs: Any, test_users: int, first_user: int
) -> tuple[dict[str, Any], Any]:
    """Fit ``agent`` on the logs, test it on a copy of ``after_logs``: its row (expected
    CTR with its user-clustered standard error, realised CTR, times) and the mean true
    click probability of every product over the states it met."""
    on_path()
    from copy import deepcopy

    import harness
    import numpy as np
    import oracle_agents  # type: ignore[import-not-found]
    import run_oracle  # type: ignore[import-not-found]

    began = time.perf_counter()
    copy = deepcopy(after_logs)
    fitting = time.perf_counter()
    if hasattr(agent, "fit_events"):
        agent.fit_events(events)
    else:
        harness.replay_events_to_agent(agent, events)
    fitted = time.perf_counter() - fitting
    if isinstance(agent, oracle_agents.OracleAgent):
        agent.attach_env(copy)
    result = run_oracle.evaluate_instrumented(copy, agent, test_users, first_user)
    row = {
        "expected_ctr": result["expected_ctr"],
        "expected_ctr_se": result["expected_ctr_se_user_clustered"],
        "ctr": result["ctr"],
        "ctr_ci95": [result["ctr_q025"], result["ctr_q975"]],
        "fit_s": round(fitted, 1),
        "wall_s": round(time.perf_counter() - began, 1),
    }
    return row, np.array(result["_mean_pvec"])


def run_setting(
    seed: int, flips: int, test_users: int, train_users: int, policies: tuple[str, ...] = POLICIES
) -> dict[str, Any]:
    """One setting, each of ``policies`` in the order of ``POLICIES`` (the oracle and the best
    fixed product always; runs inside the RecoGym virtualenv)."""
    env_args, events, after_logs = logged(seed, flips, train_users)
    import harness
    import numpy as np
    import oracle_agents

    first_test_user = 100 + train_users
    out: dict[str, Any] = {"seed": seed, "flips": flips, "policies": {}}
    specs = {
        "oracle": "oracle_agents:OracleAgent",
        "history_ceiling": CEILING,
        **REFERENCES,
        "shopsense": SHOPSENSE,
    }
    best_static = None
    for name in [n for n in POLICIES if n in {"oracle", "best_static_true", *policies}]:
        if name == "best_static_true":
            cls, args = oracle_agents.FixedItemAgent, {"item": best_static}
        else:
            cls, args = harness.load_class(specs[name]), {}
        agent = harness.build_agent(cls, env_args, harness.default_args_for(cls), args)
        row, mean_p = score_policy(agent, events, after_logs, test_users, first_test_user)
        if name == "oracle":
            best_static = int(np.argmax(mean_p))
        if name == "shopsense":
            row["stack"] = agent.stack.report
        out["policies"][name] = row
        ctr, se = 100 * row["expected_ctr"], 100 * row["expected_ctr_se"]
        print(f"seed {seed} flips {flips} {name:<18} E[CTR] {ctr:.4f}% (se {se:.4f})", flush=True)
    policies = out["policies"]
    fixed, oracle = policies["best_static_true"]["expected_ctr"], policies["oracle"]["expected_ctr"]
    for row in policies.values():
        row["headroom"] = headroom(row["expected_ctr"], fixed, oracle)
    if "history_ceiling" in policies:
        ceiling = policies["history_ceiling"]["expected_ctr"]
        for row in policies.values():
            row["achievable_headroom"] = headroom(row["expected_ctr"], fixed, ceiling)
    if "shopsense" not in policies:
        return out
    mine = policies["shopsense"]
    out["shopsense_minus_best_reference"] = {
        name: {
            "difference": mine["expected_ctr"] - policies[name]["expected_ctr"],
            "se": float(np.hypot(mine["expected_ctr_se"], policies[name]["expected_ctr_se"])),
        }
        for name in ["best_static_true", *REFERENCES]
        if name in policies
    }
    return out


def markdown(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    names = [n for n in POLICIES if n in results[0]["policies"]]
    lines = [
        "# RecoGym: expected CTR and share of the headroom (benchmarks/recogym_bench.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; RecoEnv1, 100 products, {args.train_users} + 100 "
        f"training shoppers, {args.test_users} test shoppers.",
        "",
        "| seed | flips | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for r in results:
        rows = [r["policies"][n] for n in names]
        cells = [f"{100 * p['expected_ctr']:.3f}% ({100 * p['headroom']:.0f}%)" for p in rows]
        lines.append(f"| {r['seed']} | {r['flips']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: expected CTR (share of the headroom between the best fixed product and the "
        "oracle). `history_ceiling` is the most a policy that sees only the shopper's history "
        "can expect (it knows the simulator's parameters, not the shopper's state; "
        "`benchmarks/recogym_agents/ceiling.py`).",
        "",
    ]
    if "history_ceiling" in names and "shopsense" in names:
        lines += [
            "ShopSense's share of the achievable headroom (best fixed product to the ceiling):",
            "",
        ]
        lines += [
            f"- seed {r['seed']} flips {r['flips']}: "
            f"{100 * r['policies']['shopsense']['achievable_headroom']:.0f}%"
            for r in results
        ]
        lines.append("")
    if "shopsense" in names:
        lines += ["ShopSense minus each reference, in standard errors:", ""]
    for r in results:
        if "shopsense_minus_best_reference" not in r:
            continue
        gaps = ", ".join(
            f"{n} {g['difference'] / g['se']:+.1f}" if g["se"] > 0 else n
            for n, g in r["shopsense_minus_best_reference"].items()
        )
        lines.append(f"- seed {r['seed']} flips {r['flips']}: {gaps}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--flips", default="0,5")
    parser.add_argument("--train-users", type=int, default=1000)
    parser.add_argument("--test-users", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS / "recogym.json")
    parser.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help="comma list of policies to run (the oracle and the best fixed product always run)",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    chosen = tuple(args.policies.split(","))
    unknown = set(chosen) - set(POLICIES)
    if unknown:
        parser.error(f"unknown policies {sorted(unknown)}; choose from {', '.join(POLICIES)}")
    if not inside_recogym(__file__, args.inside):
        return
    began = time.perf_counter()
    results = [
        run_setting(int(seed), int(flips), args.test_users, args.train_users, chosen)
        for seed in args.seeds.split(",")
        for flips in args.flips.split(",")
    ]
    body = {
        "settings": vars(args) | {"out": str(args.out)},
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count()},
        "wall_s": round(time.perf_counter() - began, 1),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(body, indent=1, default=float))
    args.out.with_suffix(".md").write_text(markdown(results, args))
    print(markdown(results, args))


if __name__ == "__main__":
    main()
