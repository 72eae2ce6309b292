"""The feedback ranker against its baselines on held-out logged impressions.

    .venv/bin/python benchmarks/ranker_auc.py --users 1000 --products 2000
    .venv/bin/python benchmarks/ranker_auc.py --explore-sessions 4000 --disagreement 1.5

Trains the default stack on the sample shop's log (plus, with ``--explore-sessions``, that
many visits of exploration traffic from the shop simulator), exactly as ``shopsense train``
does, and prints its held-out report: the impressions of 20% of the shoppers (their rows
described by models that never saw them: cross-fitting), for the ranker, a logistic
regression on the same features and a smoothed per-item rate, per task (click, add to cart,
purchase): ROC AUC, log-loss and expected calibration error. Writes the report to
``benchmarks/results/ranker_auc.json``. RecoGym's logs: ``benchmarks/recogym_bench.py`` keeps the
same report for each setting.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from shopsense.demo import stack_table
from shopsense.evaluation.simulator import SimulatedShop, SimulationConfig, explore_shared
from shopsense.ranking.stack import StackConfig
from shopsense.synth import ShopConfig, generate_shop
from shopsense.training import train_stack

RESULTS = Path(__file__).parent / "results" / "ranker_auc.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explore-sessions", type=int, default=0)
    parser.add_argument("--disagreement", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.perf_counter()
    shop = generate_shop(ShopConfig(n_users=args.users, n_products=args.products, seed=args.seed))
    world = SimulatedShop.from_shop(shop)
    if args.explore_sessions:
        config = SimulationConfig(disagreement=args.disagreement)
        world, _, _ = explore_shared(world, args.explore_sessions, config, train_stack)
    stack = train_stack(world.logged.dataset(), StackConfig(), on_step=print)
    print(stack_table(stack))
    body = {"settings": vars(args) | {"out": str(args.out)}, "report": stack.report,
            "wall_s": round(time.perf_counter() - began, 1)}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(body, indent=1, default=float))


if __name__ == "__main__":
    main()
