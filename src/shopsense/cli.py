"""The ``shopsense`` command line.

    shopsense [--data-dir DIR] [--quiet] demo | ingest | stats | train | recommend | ...

Every command takes ``--data-dir`` (default ``./shopsense-data``, env
``SHOPSENSE_DATA_DIR``) and ``--quiet`` (no progress on stderr). Errors print one line and
exit with status 2; no tracebacks. Long work shows its progress on stderr
(:mod:`shopsense.progress`: bars with an ETA on a terminal, one line per step).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopsense import __version__, progress
from shopsense.commands import AddCommand, Handler, HelpFormatter, examples, register_all
from shopsense.config import Settings
from shopsense.errors import ConfigError, ShopSenseError
from shopsense.ingest.ingester import IngestReport, ingest_catalog_file, ingest_events_file
from shopsense.store import open_store


def _mapping(pairs: Sequence[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or ():
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise ConfigError(f"--map expects SOURCE=TARGET, got {pair!r}")
        mapping[source.strip()] = target.strip()
    return mapping


def _report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "rows": report.rows,
        "stored": report.written,
        "already_present": report.duplicates,
        "skipped": report.skipped,
        "failures": [str(f) for f in report.failures],
        "ignored_columns": report.ignored_columns,
        "seconds": round(report.seconds, 3),
    }


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    if args.what == "dataset":
        from shopsense.ingest.dataset import ingest_dataset

        reports = ingest_dataset(store, args.format, Path(args.path))
        if args.json:  # one document: products and events
            body = {"format": args.format, "path": args.path}
            print(json.dumps({**body, "reports": [_report_json(r) for r in reports]}))
        else:
            print("\n".join(r.summary() for r in reports))
        return 0
    path = Path(args.file)
    mapping = _mapping(args.map)
    with progress.task(f"ingesting {path.name}", unit="rows") as advance:
        if args.what == "catalog":
            report = ingest_catalog_file(
                store.catalog,
                path,
                mapping=mapping,
                skip_invalid=args.skip_invalid,
                progress=advance,
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
                progress=advance,
                max_clock_skew_s=settings.max_clock_skew_s,
            )
    print(json.dumps(_report_json(report)) if args.json else report.summary())
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
    from shopsense.synth import ShopConfig, generate_to

    config = ShopConfig(n_products=args.products, n_users=args.users, seed=args.seed)
    out = Path(args.out) if args.out else settings.data_dir / "sample-shop"
    files, products, events = generate_to(config, out)  # events written as they come
    print(f"wrote {products:,} products and {events:,} events to {out}")
    print(f"  catalog: {files.catalog}\n  events:  {files.events}\n  truth:   {files.truth}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.api.worker import listening_socket
    from shopsense.commands.serve import serve
    from shopsense.demo import run_demo

    host, port = "127.0.0.1", args.port
    if not args.no_serve:  # a taken port is an error before minutes of work
        listening_socket(host, port).close()
    shoppers = run_demo(settings, n_products=args.products, n_users=args.users, seed=args.seed)
    if args.no_serve:
        return 0
    storefront = f"storefront: http://{host}:{port}/?as={shoppers[0]}  (browse as a sample shopper)"
    return serve(settings, host=host, port=port, demo_shoppers=True, announce=storefront)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="where the store and models live (default ./shopsense-data, env SHOPSENSE_DATA_DIR)",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress on stderr (errors and warnings still show)",
    )
    parser = argparse.ArgumentParser(
        prog="shopsense",
        description="Self-hosted search and recommendations for online shops.",
        epilog=examples(
            "shopsense demo",
            "shopsense ingest catalog products.csv && shopsense ingest events events.jsonl",
            "shopsense train && shopsense serve",
            "shopsense COMMAND --help",
        ),
        formatter_class=HelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"shopsense {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (INFO) to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Handler, help_text: str, examples: str = ""
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
            epilog=examples or None,
            formatter_class=HelpFormatter,
        )
        p.set_defaults(handler=handler)
        return p

    _add_own(add, common)
    register_all(add)
    return parser


def _add_own(add: AddCommand, common: argparse.ArgumentParser) -> None:
    """The commands defined in this module: demo, ingest, stats, generate."""
    from shopsense.ingest.datasets import FORMATS

    demo = add(
        "demo",
        cmd_demo,
        "generate the sample shop, ingest it, train, evaluate, recommend, then serve",
        examples("shopsense demo", "shopsense demo --products 500 --users 200 --no-serve"),
    )
    _shop_size(demo)
    demo.add_argument("--no-serve", action="store_true", help="do not start the web server")
    demo.add_argument("--port", type=int, default=8000, help="the web server's port")

    ingest = add(
        "ingest",
        cmd_ingest,
        "load a catalog, events or a public dataset",
        examples(
            "shopsense ingest catalog products.csv --map sku=id --map name=title",
            "shopsense ingest events events.jsonl --skip-invalid --json",
            "shopsense ingest dataset s3rec Beauty.txt",
        ),
    )
    what = ingest.add_subparsers(dest="what", required=True, metavar="WHAT")
    for kind in ("catalog", "events"):
        text = f"ingest {'a' if kind == 'catalog' else 'an'} {kind} file (CSV, TSV, JSONL, Parquet)"
        p = what.add_parser(
            kind, parents=[common], help=text, description=text, formatter_class=HelpFormatter
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
    text = "ingest a public dataset (products, then events)"
    p = what.add_parser(
        "dataset", parents=[common], help=text, description=text, formatter_class=HelpFormatter
    )
    p.add_argument("format", choices=sorted(FORMATS), help="the dataset's format")
    p.add_argument("path", help="the dataset file or folder")
    p.add_argument("--json", action="store_true", help="print both reports as one JSON document")

    stats = add(
        "stats", cmd_stats, "count products, users and events", examples("shopsense stats --json")
    )
    stats.add_argument("--json", action="store_true", help="print the counts as JSON")

    gen = add(
        "generate",
        cmd_generate,
        "write the sample shop's files (catalog, events, truth)",
        examples("shopsense generate --out shop/ --products 5000 --users 2000 --seed 7"),
    )
    gen.add_argument("--out", help="folder (default DATA_DIR/sample-shop)")
    _shop_size(gen)


def _shop_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--products", type=int, default=5000, help="products in the sample shop")
    p.add_argument("--users", type=int, default=2000, help="shoppers in the sample shop")
    p.add_argument("--seed", type=int, default=7, help="the sample shop's random seed")


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
    reporter = None if getattr(args, "quiet", False) else progress.TerminalReporter()
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "data_dir", None):
            overrides["data_dir"] = Path(args.data_dir)
        settings = _settings(overrides)
        handler: Handler = args.handler
        with progress.reporting(reporter):
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
