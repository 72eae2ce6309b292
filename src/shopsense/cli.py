"""The ``shopsense`` command line.

    shopsense [--data-dir DIR] demo | ingest | stats | train | recommend | similar | ...

Every command takes ``--data-dir`` (default ``./shopsense-data``, env
``SHOPSENSE_DATA_DIR``). Errors print one line and exit with status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from shopsense import __version__
from shopsense.config import Settings
from shopsense.errors import ConfigError, ShopSenseError
from shopsense.ingest.ingester import IngestReport, ingest_catalog_file, ingest_events_file
from shopsense.store import open_store

Handler = Callable[[argparse.Namespace, Settings], int]


def _mapping(pairs: Sequence[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or ():
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise ConfigError(f"--map expects SOURCE=TARGET, got {pair!r}")
        mapping[source.strip()] = target.strip()
    return mapping


def _progress(description: str) -> tqdm[Any]:
    return tqdm(desc=description, unit=" rows", unit_scale=True, disable=None, leave=False)


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "source": report.source,
                    "rows": report.rows,
                    "stored": report.written,
                    "already_present": report.duplicates,
                    "skipped": report.skipped,
                    "failures": [str(f) for f in report.failures],
                    "ignored_columns": report.ignored_columns,
                    "seconds": round(report.seconds, 3),
                }
            )
        )
    else:
        print(report.summary())


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    if args.what == "dataset":
        from shopsense.ingest.dataset import ingest_dataset

        for report in ingest_dataset(store, args.format, Path(args.path), progress=_progress):
            _print_report(report, args.json)
        return 0
    path = Path(args.file)
    mapping = _mapping(args.map)
    with _progress(f"ingesting {path.name}") as bar:
        if args.what == "catalog":
            report = ingest_catalog_file(
                store.catalog,
                path,
                mapping=mapping,
                skip_invalid=args.skip_invalid,
                progress=bar.update,
                max_clock_skew_s=settings.max_clock_skew_s,
            )
        else:
            known = None if args.allow_unknown_items else store.catalog.ids()
            report = ingest_events_file(
                store.events,
                path,
                known_items=known,
                mapping=mapping,
                skip_invalid=args.skip_invalid,
                progress=bar.update,
                max_clock_skew_s=settings.max_clock_skew_s,
            )
    _print_report(report, args.json)
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    by_kind = {k.value: n for k, n in store.events.count_by_kind().items()}
    products, users, events = (
        store.catalog.count(),
        store.events.user_count(),
        store.events.count(),
    )
    if args.json:
        stats = {"products": products, "users": users, "events": events}
        print(json.dumps({**stats, "events_by_kind": by_kind}))
    else:
        print(f"products {products:>10,}")
        print(f"users    {users:>10,}")
        print(f"events   {events:>10,}")
        for kind, n in by_kind.items():
            print(f"  {kind:<12} {n:>10,}")
    return 0


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.synth import ShopConfig, generate_shop, write_shop

    config = ShopConfig(n_products=args.products, n_users=args.users, seed=args.seed)
    shop = generate_shop(config)
    out = Path(args.out) if args.out else settings.data_dir / "sample-shop"
    files = write_shop(shop, out)
    print(f"wrote {len(shop.products):,} products and {len(shop.events):,} events to {out}")
    print(f"  catalog: {files.catalog}\n  events:  {files.events}\n  truth:   {files.truth}")
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.demo import stack_table
    from shopsense.pipeline import QualityGate, train

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    gate = None if args.no_gate else QualityGate(tolerance=args.gate_tolerance)
    result = train(
        open_store(settings),
        settings,
        models,
        on_step=lambda m: print(f"- {m}", file=sys.stderr, flush=True),
        gate=gate,
        text=None if args.text == "none" else args.text,
    )
    if args.json:
        body = {
            "bundle": result.bundle.id,
            "published": result.published,
            "gate": result.gate,
            "stack": result.bundle.manifest.get("stack"),
            "metrics": result.metrics,
        }
        print(json.dumps(body, default=float))
        return 0 if result.published else 1
    print(stack_table(result.stack))
    if result.gate is not None:
        verdict = "passed" if result.gate["passed"] else "FAILED"
        print(f"quality gate: {verdict} ({result.gate['reason']})")
    if result.published:
        print(
            f"published bundle {result.bundle.id}: it serves after `POST /admin/reload` "
            "(or at the server's next start)"
        )
        return 0
    print(
        f"bundle {result.bundle.id} kept unpublished: the served bundle stays; "
        "--no-gate publishes anyway"
    )
    return 1


def cmd_recommend(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.demo import recommendations_for

    rows, strategy = recommendations_for(settings, args.user, args.n, args.objective)
    if args.json:
        print(json.dumps({"user_id": args.user, "strategy": strategy, "items": rows}))
    else:
        for row in rows:
            print(f"{row['score']:8.4f}  {row['item_id']:<10} {row['title']}")
            print(f"          {row['explanation']}")
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.evaluation.report import text_table, write_html_report
    from shopsense.evaluation.runner import evaluate_data, run_evaluation

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        params = json.loads(args.params) if args.params else {}
    except json.JSONDecodeError as exc:
        example = '{"als": {"factors": 128}}'
        raise ConfigError(f"--params must be JSON like '{example}': {exc}") from exc
    common: dict[str, Any] = {
        "protocol": args.protocol,
        "stage": args.stage,
        "params": params,
        "on_model": lambda m: print(f"- {m}", file=sys.stderr, flush=True),
    }
    if args.format == "store":
        from shopsense.pipeline import build_interactions

        data = build_interactions(open_store(settings), settings)
        report = evaluate_data(str(settings.data_dir), data, models, **common)
    else:
        if not args.path:
            raise ConfigError(f"--path is required with --format {args.format}")
        report = run_evaluation(args.format, Path(args.path), models, **common)
    if args.report:
        index = write_html_report(report, Path(args.report))
        print(f"report: {index}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(text_table(report))
    return 0


def cmd_delete_user(args: argparse.Namespace, settings: Settings) -> int:
    removed = open_store(settings).events.delete_user(args.user)
    print(f"removed user {args.user!r} and {removed} events")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.demo import run_demo

    return run_demo(
        settings,
        n_products=args.products,
        n_users=args.users,
        seed=args.seed,
        serve=not args.no_serve,
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where the store and models live (default ./shopsense-data, env SHOPSENSE_DATA_DIR)",
    )
    parser = argparse.ArgumentParser(
        prog="shopsense",
        description=__doc__.splitlines()[0] if __doc__ else None,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"shopsense {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    demo = add("demo", cmd_demo, "generate the sample shop, ingest it, train, evaluate, recommend")
    demo.add_argument("--products", type=int, default=5000)
    demo.add_argument("--users", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-serve", action="store_true", help="do not start the web server")

    ingest = add("ingest", cmd_ingest, "load a catalog, events or a public dataset")
    what = ingest.add_subparsers(dest="what", required=True, metavar="WHAT")
    for kind in ("catalog", "events"):
        p = what.add_parser(
            kind, parents=[common], help=f"ingest a {kind} file (CSV, JSONL, Parquet)"
        )
        p.add_argument("file", help="a .csv, .tsv, .jsonl or .parquet file (optionally .gz)")
        p.add_argument(
            "--map",
            action="append",
            metavar="SRC=DST",
            help="rename a column of the file to a ShopSense field (repeatable)",
        )
        p.add_argument(
            "--skip-invalid",
            action="store_true",
            help="store the valid rows and report the invalid ones",
        )
        p.add_argument("--json", action="store_true", help="print the report as JSON")
        if kind == "events":
            p.add_argument(
                "--allow-unknown-items",
                action="store_true",
                help="accept events on products not in the catalog",
            )
    p = what.add_parser("dataset", parents=[common], help="ingest a public dataset")
    p.add_argument("format", help="s3rec, sasrec, unisrec, diginetica, yoochoose or aliccp")
    p.add_argument("path", help="the dataset file or folder")
    p.add_argument("--json", action="store_true")

    stats = add("stats", cmd_stats, "count products, users and events")
    stats.add_argument("--json", action="store_true")

    gen = add("generate", cmd_generate, "write the sample shop's files (catalog, events, truth)")
    gen.add_argument("--out", help="folder (default DATA_DIR/sample-shop)")
    gen.add_argument("--products", type=int, default=5000)
    gen.add_argument("--users", type=int, default=2000)
    gen.add_argument("--seed", type=int, default=7)

    tr = add(
        "train",
        cmd_train,
        "train the default stack (retrieval chosen on validation + the feedback ranker) "
        "on the stored events and publish it as a bundle",
    )
    tr.add_argument(
        "--models",
        help="comma-separated retrieval models to try (default: popularity, repeat, "
        "transition, item_knn, als, ease; validation chooses among them)",
    )
    tr.add_argument(
        "--gate-tolerance",
        type=float,
        default=0.05,
        help="relative drop against the served bundle the quality gate allows (default 0.05)",
    )
    tr.add_argument("--no-gate", action="store_true", help="publish without the quality gate")
    tr.add_argument(
        "--text",
        choices=["auto", "static", "minilm", "none"],
        default="auto",
        help="the item tower's text embeddings: static (fast), minilm (slower, better) or "
        "none (default auto: static when the search extra is installed)",
    )
    tr.add_argument("--json", action="store_true")

    rec = add("recommend", cmd_recommend, "recommend products for a shopper (as the server does)")
    rec.add_argument("user")
    rec.add_argument("-n", type=int, default=10)
    rec.add_argument("--objective", choices=["click", "conversion", "revenue"])
    rec.add_argument("--json", action="store_true")

    ev = add("evaluate", cmd_evaluate, "offline evaluation of models on a dataset or the store")
    ev.add_argument(
        "--format",
        default="store",
        help="s3rec, sasrec, unisrec, diginetica, yoochoose, or store (default: the "
        "data dir's events)",
    )
    ev.add_argument("--path", help="dataset file or folder (not needed for --format store)")
    ev.add_argument("--models", default="popularity,als", help="comma-separated model names")
    ev.add_argument("--protocol", default="leave-one-out", choices=["leave-one-out", "temporal"])
    ev.add_argument(
        "--stage", default="test", choices=["valid", "test"], help="tune on valid, report test"
    )
    ev.add_argument("--params", help='JSON hyper-parameters per model: {"als": {"factors": 128}}')
    ev.add_argument("--json", action="store_true", help="print the results as JSON")
    ev.add_argument("--report", metavar="DIR", help="write an HTML report with plots to DIR")

    dele = add("delete-user", cmd_delete_user, "remove a shopper and all of their events")
    dele.add_argument("user")

    from shopsense.commands import register_all

    register_all(add)
    return parser


def _settings(overrides: dict[str, Any]) -> Settings:
    """Settings from the environment; a bad ``SHOPSENSE_*`` value is a one-line error."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"SHOPSENSE_{'__'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"bad setting {problems}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "data_dir", None):
            overrides["data_dir"] = Path(args.data_dir)
        settings = _settings(overrides)
        handler: Handler = args.handler
        return handler(args, settings)
    except ShopSenseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
