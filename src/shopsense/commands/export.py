"""``shopsense export``: the event log and the catalog as Parquet, for Spark or any engine.

Example::

    $ shopsense export events --out exports/
    events: wrote 3 days (41,207 events), 27 unchanged, 0 removed -> exports/events
    $ shopsense export catalog --out exports/

Events are partitioned by day (``exports/events/day=YYYY-MM-DD/``); a second run writes
only the days that changed (see :mod:`shopsense.store.export`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shopsense.commands import AddCommand, examples
from shopsense.config import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.store import open_store
    from shopsense.store.export import export_catalog, export_events

    store = open_store(settings)
    out: Path = args.out
    try:
        if args.what in ("events", "all"):
            report = export_events(store.events, out)
            sys.stdout.write(
                f"events: wrote {len(report.written)} days ({report.events:,} events), "
                f"{report.unchanged} unchanged, {len(report.removed)} removed -> {out / 'events'}\n"
            )
        if args.what in ("catalog", "all"):
            count = export_catalog(store.catalog, out)
            sys.stdout.write(f"catalog: {count:,} products -> {out / 'catalog'}\n")
    finally:
        store.close()
    return 0


def register(add: AddCommand) -> None:
    """Add ``export``."""
    p = add(
        "export",
        cmd_export,
        "write events (by day, only what changed) and the catalog as Parquet",
        examples(
            "shopsense export events --out exports/",
            "shopsense export all --out /data/shopsense-export",
        ),
    )
    p.add_argument("what", choices=["events", "catalog", "all"], help="what to export")
    p.add_argument("--out", type=Path, required=True, help="the export directory")
    p.add_argument("--format", choices=["parquet"], default="parquet", help="the file format")
