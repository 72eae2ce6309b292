"""Validate records and write them into the store, all-or-nothing per file.

A file is written in one transaction. With ``skip_invalid=False`` (the default) the first
invalid row stops writing, the remaining rows are still checked so the report can say how
many are bad, and the transaction is rolled back: nothing from the file is stored. With
``skip_invalid=True`` the valid rows are stored and the report lists the first failures.

Example::

    >>> from shopsense.store import InMemoryStore
    >>> store = InMemoryStore()
    >>> report = ingest_products(store.catalog, [(1, {"id": "P1", "title": "Mug"})], "api")
    >>> report.written, store.catalog.count()
    (1, 1)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pydantic

from shopsense.domain import Event, Product
from shopsense.errors import IngestError, ValidationError
from shopsense.ingest.columnar import StorageRows, parquet_event_records
from shopsense.ingest.files import (
    Record,
    derive_event_id,
    detect_format,
    read_header,
    read_records,
)
from shopsense.limits import DEFAULT_MAX_CLOCK_SKEW_S
from shopsense.store.base import Catalog, EventLog, event_row

Progress = Callable[[int], object]
Item = TypeVar("Item")

PRODUCT_FIELDS = tuple(Product.model_fields)
EVENT_FIELDS = tuple(Event.model_fields)
REQUIRED = {"products": ("id", "title"), "events": ("user_id", "kind", "timestamp")}


@dataclass
class IngestReport:
    """What one ingest did."""

    source: str
    rows: int = 0
    written: int = 0
    duplicates: int = 0
    #: Rows whose id an earlier row of the same file had (catalogs: the later row wins).
    repeated: int = 0
    skipped: int = 0
    failures: list[ValidationError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        parts = [
            f"{self.source}: {self.rows} rows read, {self.written} stored",
            f"{self.duplicates} already present",
        ]
        if self.repeated:
            parts.append(f"{self.repeated} rows repeat an earlier row's id (the later row wins)")
        if self.skipped:
            parts.append(f"{self.skipped} invalid rows skipped")
        parts.append(f"{self.seconds:.2f} s ({rate:,.0f} rows/s)")
        lines = [", ".join(parts)]
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        lines.extend(f"  skipped: {failure}" for failure in self.failures)
        return "\n".join(lines)


def describe(source: str, row: int, exc: pydantic.ValidationError) -> ValidationError:
    """Turn pydantic's error into ours: source, row, field and a short reason."""
    error = exc.errors(include_url=False)[0]
    location = ".".join(str(p) for p in error["loc"]) or "(row)"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] == "missing":
        message = "is required but missing"
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        message = f"{message} (got {str(value)[:60]!r})"
    return ValidationError(source, row, location, message)


class _Validator:
    """Validates records one by one, collecting failures under the skip policy."""

    def __init__(self, report: IngestReport, skip_invalid: bool, keep: int) -> None:
        self.report = report
        self.skip_invalid = skip_invalid
        self.keep = keep
        self.total_failures = 0

    def fail(self, error: ValidationError) -> None:
        self.total_failures += 1
        if len(self.report.failures) < self.keep:
            self.report.failures.append(error)

    def finish(self) -> None:
        if self.total_failures and not self.skip_invalid:
            raise IngestError(self.report.failures, self.total_failures)
        self.report.skipped = self.total_failures

    @property
    def writing(self) -> bool:
        """Whether rows may still be written (no failure yet, or failures are skipped)."""
        return self.skip_invalid or self.total_failures == 0


def _batched(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_products(
    catalog: Catalog,
    records: Iterable[Record],
    source: str,
    *,
    skip_invalid: bool = False,
    batch_size: int = 10_000,
    max_failures: int = 10,
    progress: Progress | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> IngestReport:
    """Validate product records and upsert them, all-or-nothing unless ``skip_invalid``."""
    report = IngestReport(source)
    check = _Validator(report, skip_invalid, max_failures)
    context = {"max_clock_skew_s": max_clock_skew_s}
    started = time.perf_counter()

    def valid() -> Iterator[Product]:
        for row, record in records:
            report.rows += 1
            if isinstance(record, ValidationError):
                check.fail(record)
                continue
            try:
                product = Product.model_validate(record, context=context)
            except pydantic.ValidationError as exc:
                check.fail(describe(source, row, exc))
                continue
            if check.writing:
                yield product

    seen: set[str] = set()
    with catalog.writer() as writer:
        for batch in _batched(valid(), batch_size):
            if check.writing:
                writer.upsert(batch)
                fresh = {p.id for p in batch} - seen
                seen |= fresh
                report.written += len(fresh)
                report.repeated += len(batch) - len(fresh)
            if progress:
                progress(len(batch))
        check.finish()
    report.seconds = time.perf_counter() - started
    return report


def ingest_events(
    events: EventLog,
    records: Iterable[Record | StorageRows],
    source: str,
    *,
    known_items: set[str] | None = None,
    skip_invalid: bool = False,
    batch_size: int = 10_000,
    max_failures: int = 10,
    progress: Progress | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> IngestReport:
    """Validate event records and append them, all-or-nothing unless ``skip_invalid``
    (through a staging table: the log's write lock is held one chunk at a time, and a
    killed ingest run again stores exactly the rest).

    ``known_items``: when given, events naming a product outside it are invalid.
    Records without ``event_id`` get one derived from their content (:func:`derive_event_id`).
    """
    report = IngestReport(source)
    check = _Validator(report, skip_invalid, max_failures)
    context = {"max_clock_skew_s": max_clock_skew_s}
    started = time.perf_counter()

    def valid() -> Iterator[tuple[object, ...]]:
        for item in records:
            if isinstance(item, StorageRows):  # checked column by column already
                report.rows += len(item)
                if check.writing:
                    yield from item
                continue
            row, record = item
            report.rows += 1
            if isinstance(record, ValidationError):
                check.fail(record)
                continue
            if "event_id" not in record:
                record["event_id"] = derive_event_id(record)
            try:
                event = Event.model_validate(record, context=context)
            except pydantic.ValidationError as exc:
                check.fail(describe(source, row, exc))
                continue
            if known_items is not None and event.item_id and event.item_id not in known_items:
                check.fail(
                    ValidationError(
                        source,
                        row,
                        "item_id",
                        f"unknown product id {event.item_id!r}; add it to the catalog first "
                        "or pass --allow-unknown-items",
                    )
                )
                continue
            if check.writing:
                yield (row, *event_row(event))

    # Staged first (nothing reaches the log while the file is read and checked), then
    # moved in short transactions: the server's writes never wait for the whole file.
    with events.staged() as staged:
        for batch in _batched(valid(), batch_size):
            if check.writing:
                staged.add_rows(batch)
            if progress:
                progress(len(batch))
        clashes = staged.conflicts() if check.writing else []
        for row, event_id in clashes:
            reason = (
                f"{event_id!r} is already stored for a different event; event ids must be "
                "unique (the stored event is kept)"
            )
            check.fail(ValidationError(source, row, "event_id", reason))
        check.finish()  # refused: the staging table goes, the log never saw a row
        staged.drop([row for row, _ in clashes])
        total = staged.staged
        report.written = staged.commit()
        report.duplicates = total - report.written
    report.seconds = time.perf_counter() - started
    return report


def check_columns(path: Path, kind: str, mapping: dict[str, str]) -> list[str]:
    """Refuse files missing a required column; return the columns that will be ignored."""
    columns = read_header(path, mapping)
    known = PRODUCT_FIELDS if kind == "products" else EVENT_FIELDS
    if kind == "products":
        known = (*known, "category")
    for required in REQUIRED[kind]:
        if required not in columns:
            raise ValidationError(
                path.name,
                0,
                required,
                f"is missing (found: {', '.join(columns) or 'none'}); "
                f"rename yours with --map SOURCE={required}",
            )
    return [c for c in columns if c not in known]


def _drop(records: Iterator[Record], ignored: list[str]) -> Iterator[Record]:
    for row, record in records:
        if isinstance(record, dict):
            for name in ignored:
                record.pop(name, None)
        yield row, record


def ingest_catalog_file(
    catalog: Catalog,
    path: Path,
    *,
    mapping: dict[str, str] | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> IngestReport:
    """Ingest a catalog file (CSV / TSV / JSONL / Parquet) with default column names."""
    mapping = mapping or {}
    ignored = check_columns(path, "products", mapping)
    report = ingest_products(
        catalog,
        _drop(read_records(path, mapping), ignored),
        path.name,
        skip_invalid=skip_invalid,
        progress=progress,
        max_clock_skew_s=max_clock_skew_s,
    )
    report.ignored_columns = ignored
    return report


def ingest_events_file(
    events: EventLog,
    path: Path,
    *,
    known_items: set[str] | None = None,
    mapping: dict[str, str] | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> IngestReport:
    """Ingest an events file (CSV / TSV / JSONL / Parquet) with default column names.
    Parquet batches are checked column by column first (:mod:`shopsense.ingest.columnar`):
    only the rows that check cannot vouch for are validated one by one."""
    mapping = mapping or {}
    ignored = check_columns(path, "events", mapping)
    records: Iterable[Record | StorageRows]
    if detect_format(path) == "parquet":  # whole columns at once (ingest.columnar)
        records = parquet_event_records(path, mapping, ignored, known_items, max_clock_skew_s)
    else:
        records = _drop(read_records(path, mapping), ignored)
    report = ingest_events(
        events,
        records,
        path.name,
        known_items=known_items,
        skip_invalid=skip_invalid,
        progress=progress,
        max_clock_skew_s=max_clock_skew_s,
    )
    report.ignored_columns = ignored
    return report
