"""``shopsense evaluate-policy``: what a bundle would earn, estimated from logged lists.

    shopsense evaluate-policy                          # the newest published bundle
    shopsense evaluate-policy --bundle ID --objective click --exploration 0.05 --json
    shopsense evaluate-policy --since-days 7

Every logged list whose impressions carry propensities (ShopSense logs them for the lists
it serves) is replayed: the shopper's state at that moment, what the candidate would have
shown, and IPS, SNIPS and doubly robust estimates of its clicks and purchases per list,
with 95% intervals, next to what the logging policy itself earned
(:mod:`shopsense.evaluation.offpolicy`). IPS and SNIPS also give the effective number of
logged lists behind their least-supported slot.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shopsense.commands import AddCommand, examples
from shopsense.config import Settings
from shopsense.errors import ModelError

#: Below this many effective logged lists at a slot, the text output warns (see
#: :mod:`shopsense.evaluation.offpolicy` on the effective number of lists).
FEW_EFFECTIVE_LISTS = 30


def register(add: AddCommand) -> None:
    """Add ``evaluate-policy``."""
    p = add(
        "evaluate-policy",
        cmd_evaluate_policy,
        "off-policy estimate (IPS, SNIPS, DR) of a bundle's clicks and purchases per list, "
        "from the logged lists",
        examples(
            "shopsense evaluate-policy",
            "shopsense evaluate-policy --objective click --exploration 0.05 --json",
            "shopsense evaluate-policy --since-days 7",
        ),
    )
    p.add_argument("--bundle", help="bundle id (default: the newest published one)")
    p.add_argument(
        "--objective",
        choices=["click", "conversion", "revenue"],
        help="what the candidate ranks for (default: the bundle's own)",
    )
    p.add_argument(
        "--exploration",
        type=float,
        default=0.0,
        help="the candidate's exploration rate (default 0: its greedy lists)",
    )
    p.add_argument(
        "--since-days", type=float, help="only the lists of the last N days (default: all)"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def cmd_evaluate_policy(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.dataset import Dataset
    from shopsense.evaluation.offpolicy import estimates, replay_candidate, stack_target
    from shopsense.ranking.logged import event_arrays
    from shopsense.recommend.models import ModelSet
    from shopsense.store import ArtifactStore, open_store

    artifacts = ArtifactStore(settings.artifacts_dir)
    bundles = {b.id: b for b in artifacts.list()}
    bundle = bundles.get(args.bundle) if args.bundle else artifacts.latest()
    if bundle is None:
        raise ModelError(
            f"no bundle {args.bundle!r}"
            if args.bundle
            else "no published bundle; run `shopsense train`"
        )
    stack = ModelSet.load(bundle).stack
    if stack is None:
        raise ModelError(f"bundle {bundle.id} has no stack (trained by an older version)")
    store = open_store(settings)
    try:
        dataset = Dataset.from_store(store)
    finally:
        store.close()
    log, _, queries = event_arrays(dataset.events, stack.table)
    since = None
    if args.since_days is not None and len(log):
        since = int(log.time.max() - args.since_days * 86_400 * 1_000_000)
    inputs, requests = replay_candidate(
        log,
        stack.table,
        stack_target(stack, args.objective, args.exploration),
        reward_model=stack if stack.ranker is not None else None,
        queries=queries,
        since_us=since,
    )
    body: dict[str, Any] = {
        "bundle": bundle.id,
        "objective": args.objective or stack.config.objective,
        "exploration": args.exploration,
        "lists": len(requests),
        "rewards": {},
    }
    for reward in ("click", "purchase"):
        found = estimates(inputs, reward)
        body["rewards"][reward] = {
            "logged": inputs.logged_value(reward).as_dict(),
            **{name: e.as_dict() for name, e in found.items()},
        }
    if args.json:
        sys.stdout.write(json.dumps(body, indent=1) + "\n")
        return 0
    lines = [
        f"bundle {bundle.id}: {len(requests):,} logged lists with propensities; per list:",
        f"{'reward':<9} {'estimator':<10} {'value':>8} {'95% CI':>20} {'effective lists':>16}",
    ]
    few = False
    for reward, rows in body["rewards"].items():
        for name, row in rows.items():
            low, high = row["ci95"]
            effective = row.get("effective_lists")
            shown = "" if effective is None else f"{effective:16,.1f}"
            few |= effective is not None and effective < FEW_EFFECTIVE_LISTS
            lines.append(
                f"{reward:<9} {name:<10} {row['value']:8.4f} [{low:8.4f}, {high:8.4f}] {shown}"
            )
    if few:
        lines.append(
            f"few logged lists show what the candidate would (under {FEW_EFFECTIVE_LISTS} "
            "effective lists at some slot): IPS and SNIPS say little there, and their "
            "intervals are widened to match; log more lists with exploration on"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
