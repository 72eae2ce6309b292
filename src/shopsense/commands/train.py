"""``shopsense train``: train the default stack, gate it, publish it, say what will serve.

    shopsense train
    shopsense train --models popularity,transition,als,sasrec --gate-tolerance 0.02
    shopsense train --no-gate --json
    shopsense train --engine spark --spark-master spark://host:7077

The end of its output is the quality gate's verdict, the bundle the server serves after
this run (the newest published one: the new bundle, or the one it failed against) and the
model that answers each scenario; a warning goes to stderr when the new bundle was
published although it scores below the bundle it replaces.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from shopsense.commands import AddCommand, examples
from shopsense.config import Settings

if TYPE_CHECKING:
    from shopsense.pipeline import TrainResult


def register(add: AddCommand) -> None:
    """Add ``train``."""
    p = add(
        "train",
        cmd_train,
        "train the default stack (retrieval chosen on validation + the feedback ranker) "
        "on the stored events and publish it as a bundle",
        examples(
            "shopsense train",
            "shopsense train --models popularity,transition,als --gate-tolerance 0.02",
            "shopsense train --no-gate --json > train.json",
            "shopsense train --engine spark --spark-master local[2]",
            "shopsense train --tune 10m",
        ),
    )
    p.add_argument(
        "--models",
        help="comma-separated retrieval models to try (default: popularity, repeat, "
        "transition, item_knn, als, ease; validation chooses among them)",
    )
    p.add_argument(
        "--gate-tolerance",
        type=float,
        default=0.05,
        help="relative drop against the served bundle the quality gate allows",
    )
    p.add_argument("--no-gate", action="store_true", help="publish without the quality gate")
    p.add_argument(
        "--text",
        choices=["auto", "static", "minilm", "minilm-int8", "none"],
        default="auto",
        help="the item tower's text embeddings: static (fast), minilm (slower, better), "
        "minilm-int8 (MiniLM with int8 weights: about twice as fast), none, or auto (static "
        "when the search extra is installed)",
    )
    p.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="where to train: local (this process, the default), or spark: Apache Spark "
        "on the events exported as Parquet to DATA_DIR/export (popularity and ALS with "
        "MLlib, trending, bought together; needs the spark extra and Java 17+; see "
        "docs/scaling.md)",
    )
    p.add_argument(
        "--spark-master",
        help="the Spark master with --engine spark: local[*] (default), local[2], "
        "spark://host:7077, yarn, k8s://...",
    )
    p.add_argument(
        "--tune",
        metavar="BUDGET",
        help="first tune each retrieval model's hyper-parameters on the validation step "
        "(Optuna, seeded), with this budget per model: trials (30) or time (90s, 20m, 1h); "
        "the stack is trained with what was found (local engine)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.demo import stack_table
    from shopsense.errors import ConfigError
    from shopsense.evaluation.tuning import Budget
    from shopsense.pipeline import QualityGate, train
    from shopsense.store import open_store

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    gate = None if args.no_gate else QualityGate(tolerance=args.gate_tolerance)
    tune = Budget.parse(args.tune) if args.tune else None
    if tune is not None and args.engine != "local":
        raise ConfigError("--tune tunes the local engine's models; drop it with --engine spark")
    store = open_store(settings)
    try:
        result = train(
            store,
            settings,
            models,
            gate=gate,
            text=None if args.text == "none" else args.text,
            engine=args.engine,
            spark_master=args.spark_master,
            tune=tune,
        )
    finally:
        store.close()
    serving = what_serves(settings)
    regression = result.regression()
    if regression is not None:
        sys.stderr.write(f"WARNING: {regression}\n")
    if args.json:
        body = {
            "bundle": result.bundle.id,
            "published": result.published,
            "gate": result.gate,
            "stack": result.bundle.manifest.get("stack"),
            "metrics": result.metrics,
            "serving": serving,
            "warnings": [regression] if regression else [],
        }
        sys.stdout.write(json.dumps(body, default=float) + "\n")
        return 0 if result.published else 1
    lines = [stack_table(result.stack), *_verdict(result), *_serving_lines(serving)]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if result.published else 1


def what_serves(settings: Settings) -> dict[str, Any]:
    """The bundle the server serves now (at its next start or ``POST /admin/reload``) and
    the model answering each scenario."""
    from shopsense.recommend.models import ModelSet
    from shopsense.recommend.scenarios import answering
    from shopsense.store.artifacts import ArtifactStore

    bundle = ArtifactStore(settings.artifacts_dir).latest()
    if bundle is None:
        return {"bundle": None, "scenarios": {}}
    rows = answering(ModelSet.load(bundle))
    return {"bundle": bundle.id, "scenarios": {r.scenario: f"{r.model}: {r.how}" for r in rows}}


def _verdict(result: TrainResult) -> list[str]:
    lines = []
    if result.gate is not None:
        verdict = "passed" if result.gate["passed"] else "FAILED"
        lines.append(f"quality gate: {verdict} ({result.gate['reason']})")
    if result.published:
        lines.append(f"published bundle {result.bundle.id}")
    else:
        lines.append(f"bundle {result.bundle.id} kept unpublished (--no-gate publishes anyway)")
    return lines


def _serving_lines(serving: dict[str, Any]) -> list[str]:
    if serving["bundle"] is None:
        return ["serving: nothing (no published bundle)"]
    lines = [
        f"serving: bundle {serving['bundle']} (after POST /admin/reload, or at the "
        "server's next start)"
    ]
    lines += [f"  {scenario:<16} {model}" for scenario, model in serving["scenarios"].items()]
    return lines
