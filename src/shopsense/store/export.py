"""The event log and the catalog as Parquet: the hand-off to Spark, DuckDB, pandas or any
engine (``shopsense export events|catalog --out DIR``).

Layout (Hive-style partitions: ``spark.read.parquet("DIR/events")`` reads ``day`` as a
column)::

    DIR/events/day=2026-11-30/part-00000.parquet
    DIR/events/_export.json      what each day held when it was written
    DIR/catalog/catalog.parquet

Events are read once, as columns, from the first day that needs writing; each day is
written beside its partition and renamed into place, so a reader sees a day whole, old or
new. **Incremental and idempotent**: ``_export.json`` keeps each written day's count of
events and highest storage sequence number (:meth:`EventLog.day_marks`); a later run writes
only the days whose pair changed (new days, late events, a shopper deleted since: their
events leave the export too) and removes days that no longer have events. Running it twice
writes nothing the second time. A run that dies leaves the days it had not finished as
they were; the next run writes them.

Example::

    >>> import tempfile
    >>> from shopsense.store import InMemoryStore
    >>> export_events(InMemoryStore().events, Path(tempfile.mkdtemp())).written
    []
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shopsense.domain import Product
from shopsense.store.artifacts import write_json
from shopsense.store.base import MICROS_PER_DAY, Catalog, EventBatch, EventLog

#: The events' Parquet schema (the ``day`` partition column comes from the directories).
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("kind", pa.string()),
        ("item_id", pa.string()),
        ("query", pa.string()),
        ("request_id", pa.string()),
        ("position", pa.int32()),
        ("propensity", pa.float64()),
        ("quantity", pa.int32()),
        ("price", pa.float64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
    ]
)
CATALOG_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("title", pa.string()),
        ("description", pa.string()),
        ("category", pa.list_(pa.string())),
        ("brand", pa.string()),
        ("price", pa.float64()),
        ("currency", pa.string()),
        ("in_stock", pa.bool_()),
        ("attributes", pa.string()),  # JSON: a map of mixed values
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)
MANIFEST = "_export.json"
_EPOCH = date(1970, 1, 1)


@dataclass
class ExportReport:
    """What one export run did."""

    #: Days written (``YYYY-MM-DD``), oldest first.
    written: list[str] = field(default_factory=list)
    #: Days already exported and unchanged.
    unchanged: int = 0
    #: Days removed (their events were all deleted).
    removed: list[str] = field(default_factory=list)
    #: Events in the days written.
    events: int = 0


def day_name(day: int) -> str:
    """``YYYY-MM-DD`` of a day number (days since 1970, UTC)."""
    return (_EPOCH + timedelta(days=day)).isoformat()


def export_events(events: EventLog, out: Path, batch_size: int = 100_000) -> ExportReport:
    """Write the event log under ``out/events`` as day partitions (only what changed)."""
    root = out / "events"
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(".writing-*"):  # a run that died
        shutil.rmtree(leftover, ignore_errors=True)
    done: dict[str, dict[str, int]] = _read_json(root / MANIFEST).get("days", {})
    marks = {day_name(d): {"events": n, "last_seq": s} for d, (n, s) in events.day_marks().items()}
    report = ExportReport(unchanged=sum(1 for d, m in marks.items() if done.get(d) == m))
    for name in sorted(set(done) - set(marks)):
        shutil.rmtree(root / f"day={name}", ignore_errors=True)
        report.removed.append(name)
    stale = sorted(d for d, m in marks.items() if done.get(d) != m)
    to_write = set(stale)
    if stale:
        since = (date.fromisoformat(stale[0]) - _EPOCH).days * MICROS_PER_DAY
        staging = root / f".writing-{uuid.uuid4().hex[:8]}"
        parts: dict[str, int] = {}
        for batch in events.iter_batches(batch_size, since_us=since):
            days = batch.timestamp // MICROS_PER_DAY
            for day in np.unique(days):
                name = day_name(int(day))
                if name not in to_write:
                    continue  # unchanged, or stored after the marks were read (next run)
                rows = np.flatnonzero(days == day)
                target = staging / f"day={name}"
                target.mkdir(parents=True, exist_ok=True)
                number = parts.get(name, 0)
                pq.write_table(_event_table(batch, rows), target / f"part-{number:05d}.parquet")
                parts[name] = number + 1
                report.events += len(rows)
        for name in stale:
            if name in parts:
                _swap(staging / f"day={name}", root / f"day={name}")
                report.written.append(name)
        shutil.rmtree(staging, ignore_errors=True)
    kept = {d: m for d, m in marks.items() if d in report.written or done.get(d) == m}
    write_json(root / MANIFEST, {"days": kept})
    return report


def export_catalog(catalog: Catalog, out: Path, batch_size: int = 10_000) -> int:
    """Write the whole catalog to ``out/catalog/catalog.parquet`` (replaced atomically);
    returns how many products."""
    root = out / "catalog"
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / f".catalog-{uuid.uuid4().hex[:8]}.parquet"
    count = 0
    with pq.ParquetWriter(temporary, CATALOG_SCHEMA) as writer:
        for products in catalog.iter_products(batch_size):
            writer.write_table(_catalog_table(products))
            count += len(products)
    temporary.replace(root / "catalog.parquet")
    return count


def _event_table(batch: EventBatch, rows: np.ndarray[Any, Any]) -> pa.Table:
    def strings(values: np.ndarray[Any, Any]) -> pa.Array:
        return pa.array(values[rows], type=pa.string())

    def ints(values: np.ndarray[Any, Any]) -> pa.Array:
        picked = values[rows]
        return pa.array(picked, type=pa.int32(), mask=picked < 0)  # -1: absent

    def floats(values: np.ndarray[Any, Any]) -> pa.Array:
        picked = values[rows]
        return pa.array(picked, type=pa.float64(), mask=np.isnan(picked))

    columns = [
        strings(batch.event_id),
        strings(batch.user_id),
        strings(batch.session_id),
        strings(batch.kind),
        strings(batch.item_id),
        strings(batch.query),
        strings(batch.request_id),
        ints(batch.position),
        floats(batch.propensity),
        ints(batch.quantity),
        floats(batch.price),
        pa.array(batch.timestamp[rows], type=pa.timestamp("us", tz="UTC")),
    ]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def _catalog_table(products: Sequence[Product]) -> pa.Table:
    rows = {
        "id": [p.id for p in products],
        "title": [p.title for p in products],
        "description": [p.description for p in products],
        "category": [list(p.category) for p in products],
        "brand": [p.brand for p in products],
        "price": [p.price for p in products],
        "currency": [p.currency for p in products],
        "in_stock": [p.in_stock for p in products],
        "attributes": [json.dumps(p.attributes, sort_keys=True) for p in products],
        "created_at": [p.created_at or datetime.now(UTC) for p in products],
    }
    return pa.Table.from_pydict(rows, schema=CATALOG_SCHEMA)


def _swap(new: Path, target: Path) -> None:
    """Put directory ``new`` where ``target`` is (the old one goes)."""
    if target.exists():
        old = target.with_name(f".old-{uuid.uuid4().hex[:8]}")
        target.replace(old)
        new.replace(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.replace(target)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
