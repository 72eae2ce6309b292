"""``shopsense evaluate``: offline evaluation of models on a public dataset or the store.

shopsense evaluate --models popularity,als                 # the data dir's events
shopsense evaluate --format s3rec --path Beauty.txt --models popularity,ease,als --json
shopsense evaluate --models als --report report/           # HTML with plots (matplotlib)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shopsense import progress
from shopsense.commands import AddCommand, examples
from shopsense.config import Settings
from shopsense.errors import ConfigError
from shopsense.ingest.datasets import FORMATS


def register(add: AddCommand) -> None:
    """Add ``evaluate``."""
    p = add(
        "evaluate",
        cmd_evaluate,
        "offline evaluation of models on a dataset or the store",
        examples(
            "shopsense evaluate --models popularity,als",
            "shopsense evaluate --format s3rec --path Beauty.txt --models popularity,ease,als",
            'shopsense evaluate --models als --stage valid --params \'{"als": {"factors": 128}}\'',
            "shopsense evaluate --models popularity,als --report report/",
            "shopsense evaluate --format s3rec --path Beauty.txt --models als,ease --tune 20m",
        ),
    )
    p.add_argument(
        "--format",
        default="store",
        choices=["store", *FORMATS],
        help="a public dataset's format, or store: the data dir's events",
    )
    p.add_argument("--path", help="dataset file or folder (not needed for --format store)")
    p.add_argument("--models", default="popularity,als", help="comma-separated model names")
    p.add_argument(
        "--protocol",
        default="leave-one-out",
        choices=["leave-one-out", "temporal"],
        help="how the held-out events are chosen",
    )
    p.add_argument(
        "--stage",
        default="test",
        choices=["valid", "test"],
        help="tune on valid, report test",
    )
    p.add_argument("--params", help='JSON hyper-parameters per model: {"als": {"factors": 128}}')
    p.add_argument(
        "--tune",
        metavar="BUDGET",
        help="first tune each model's hyper-parameters on the validation stage (Optuna, "
        "seeded), with this budget per model: trials (30) or time (90s, 20m, 1h); the stage "
        "asked for is then reported with the best settings (--params: the starting point)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="also write an HTML report with plots to DIR, item-embedding maps of the "
        "models that embed items included (needs the report extra)",
    )


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.evaluation.report import require_plotting, text_table, write_html_report
    from shopsense.evaluation.runner import category_labels, evaluate_data, run_evaluation
    from shopsense.evaluation.tuning import Budget

    if args.report:
        require_plotting("--report", maps=True)  # before the work, not after it
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        params = json.loads(args.params) if args.params else {}
    except json.JSONDecodeError as exc:
        example = '{"als": {"factors": 128}}'
        raise ConfigError(f"--params must be JSON like '{example}': {exc}") from exc
    common: dict[str, Any] = {
        "tune": Budget.parse(args.tune) if args.tune else None,
        "protocol": args.protocol,
        "stage": args.stage,
        "params": params,
        "on_model": lambda m: progress.note(f"evaluating {m}"),
        "maps": bool(args.report),
    }
    if args.format == "store":
        from shopsense.pipeline import build_interactions
        from shopsense.store import open_store

        store = open_store(settings)
        data = build_interactions(store, settings)
        products = (p for batch in store.catalog.iter_products() for p in batch)
        labels = category_labels(products)
        report = evaluate_data(str(settings.data_dir), data, models, item_labels=labels, **common)
    else:
        if not args.path:
            raise ConfigError(f"--path is required with --format {args.format}")
        report = run_evaluation(args.format, Path(args.path), models, **common)
    if args.report:
        index = write_html_report(report, Path(args.report))
        sys.stderr.write(f"report: {index}\n")
    if args.json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        sys.stdout.write(text_table(report) + "\n")
    return 0
