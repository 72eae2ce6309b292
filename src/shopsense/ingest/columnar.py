"""Parquet event files through Arrow: each batch's columns are checked at once, and only
the rows a whole-column check cannot vouch for go through :class:`~shopsense.domain.Event`.

The check is conservative: a row it passes is one the ``Event`` model accepts with exactly
the values stored (the tests compare the two on generated and hostile batches); anything
else (a value with blanks around it, an unusual type, a timestamp written another way, an
invalid row) takes the row-by-row path, which gives the usual error naming the row and
field. A batch whose column types the check does not know goes row by row entirely.

Checked here: ids are strings (or integers) of 1-256 characters without NUL characters or
blanks at either end; ``kind`` is a known kind; a product for every kind but ``search`` and
a query for ``search``; a quantity only on purchases; positions, quantities, propensities
and prices in their ranges; timestamps as Arrow timestamps (seconds to microseconds) or ISO
8601 text (``2026-01-05T10:00:00[.ffffff][Z|+hh:mm]``), from 1970 to the clock plus the
allowed skew; products in the catalog when it is given.

Example::

    >>> import pyarrow as pa
    >>> batch = pa.record_batch({"event_id": ["e1", " e2"], "user_id": ["u1", "u1"],
    ...     "kind": ["view", "view"], "item_id": ["P1", "P1"],
    ...     "timestamp": ["2026-01-05T10:00:00Z", "2026-01-05T10:00:01Z"]})
    >>> screened = screen_events(batch, first_row=1)
    >>> [row[:2] for row in screened.rows], screened.rest.tolist()
    ([(1, 'e1')], [1])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from shopsense.domain import EventKind
from shopsense.ingest.files import Record, derive_event_id, readable
from shopsense.limits import (
    DEFAULT_MAX_CLOCK_SKEW_S,
    MAX_ID_CHARS,
    MAX_INT32,
    MAX_PRICE,
    MAX_QUERY_CHARS,
)
from shopsense.store.base import EVENT_COLUMNS, to_micros

BoolArray = npt.NDArray[np.bool_]


def _bools(values: pa.Array | pa.ChunkedArray, null: bool) -> BoolArray:
    """A boolean Arrow array as numpy, nulls as ``null``."""
    return np.asarray(pc.fill_null(values, null).to_numpy(zero_copy_only=False), bool)


#: Every character either Python's ``str.strip`` or pydantic's (Rust's) trimming removes:
#: a value with one at either end takes the row-by-row path (a test checks the class).
BLANKS = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
EDGE_BLANK = f"^[{BLANKS}]|[{BLANKS}]$"
#: The ISO 8601 timestamps checked here; other spellings take the row-by-row path.
ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
IDS = ("event_id", "user_id", "session_id", "item_id", "request_id")
KINDS = pa.array([k.value for k in EventKind])
#: Numeric columns: (lowest, highest, whether the lowest is allowed, integers only).
NUMBERS: dict[str, tuple[float, float, bool, bool]] = {
    "position": (0, MAX_INT32, True, True),
    "quantity": (1, MAX_INT32, True, True),
    "propensity": (0.0, 1.0, False, False),
    "price": (0.0, MAX_PRICE, True, False),
}


@dataclass(frozen=True)
class Screened:
    """One batch after the column check: storage rows of the rows it passed, ``(row
    number, *values in EVENT_COLUMNS order)``, and the positions in the batch of the rest
    (``rest``), with their records (``(row number, record)`` as the file reader gives)."""

    rows: list[tuple[Any, ...]]
    rest: npt.NDArray[np.int64]
    records: list[Record]


def _strings(column: pa.Array) -> pa.Array | None:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type):
        return pc.cast(column, pa.string())
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.string())  # the Event model's str() of an integer
    return None


def _text_ok(column: pa.Array, longest: int) -> BoolArray:
    """Non-null values of 1-``longest`` characters, no NUL, no blank at either end."""
    good = pc.and_(
        pc.and_(
            pc.greater_equal(pc.utf8_length(column), 1),
            pc.less_equal(pc.utf8_length(column), longest),
        ),
        pc.and_(
            pc.invert(pc.match_substring(column, "\x00")),
            pc.invert(pc.match_substring_regex(column, EDGE_BLANK)),
        ),
    )
    return _bools(good, True)


def _number_ok(column: pa.Array, name: str) -> tuple[pa.Array, BoolArray] | None:
    low, high, inclusive, integers = NUMBERS[name]
    kind = column.type
    if pa.types.is_integer(kind):
        values = column if integers else pc.cast(column, pa.float64())
    elif pa.types.is_floating(kind) and not integers:
        values = pc.cast(column, pa.float64())
    else:
        return None
    above = pc.greater_equal(values, low) if inclusive else pc.greater(values, low)
    good = pc.and_(above, pc.less_equal(values, high))  # NaN compares false
    return values, _bools(good, True)


def _micros(column: pa.Array) -> tuple[npt.NDArray[np.int64], BoolArray] | None:
    """UTC epoch microseconds of each value and whether it was read here."""
    n = len(column)
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.unit == "ns":
            return None
        values = pc.cast(pc.cast(column, pa.timestamp("us", tz=kind.tz)), pa.int64())
        filled = pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return filled, _bools(pc.is_valid(column), False)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    micros = np.zeros(n, np.int64)
    read = np.zeros(n, bool)
    shaped = pc.fill_null(pc.match_substring_regex(column, ISO_TIMESTAMP), False)
    texts = column.to_pylist()
    for i in np.flatnonzero(_bools(shaped, False)):
        try:
            moment = datetime.fromisoformat(texts[i])
        except ValueError:  # e.g. 31 February
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        micros[i] = to_micros(moment)
        read[i] = True
    return micros, read


def screen_events(
    batch: pa.RecordBatch,
    first_row: int,
    known_items: pa.Array | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> Screened:
    """Check ``batch`` (columns named as the ``Event`` fields; rows numbered from
    ``first_row``) as described in the module docstring; ``known_items``: the catalog's
    product ids (a string array), when events must name one of them."""
    names = list(batch.schema.names)
    n = batch.num_rows
    numbers = np.arange(first_row, first_row + n)
    everything = np.arange(n, dtype=np.int64)

    def row_by_row() -> Screened:
        return Screened([], everything, _records(batch, everything, numbers))

    if len(set(names)) != len(names) or not set(names) <= set(EVENT_COLUMNS):
        return row_by_row()
    for required in ("user_id", "kind", "timestamp"):
        if required not in names:
            return row_by_row()
    ok = np.ones(n, bool)
    values: dict[str, pa.Array | None] = {}
    for name in EVENT_COLUMNS:
        column = batch.column(name) if name in names else None
        if column is None or pa.types.is_null(column.type):  # absent, or null throughout
            values[name] = None
            continue
        if name in IDS or name in ("kind", "query"):
            text = _strings(column)
            if text is None:
                return row_by_row()
            ok &= _text_ok(text, MAX_QUERY_CHARS if name == "query" else MAX_ID_CHARS)
            values[name] = text
        elif name in NUMBERS:
            checked = _number_ok(column, name)
            if checked is None:
                return row_by_row()
            values[name], good = checked
            ok &= good
        else:  # timestamp
            try:
                read = _micros(column)
            except pa.ArrowInvalid:  # out of range for microseconds
                read = None
            if read is None:
                return row_by_row()
            micros, good = read
            latest = datetime.now(UTC) + timedelta(seconds=max_clock_skew_s)
            ok &= good & (micros >= 0) & (micros <= to_micros(latest))
            values[name] = pa.array(micros)

    def present(name: str) -> BoolArray:
        column = values[name]
        if column is None:
            return np.zeros(n, bool)
        return _bools(pc.is_valid(column), False)

    kind = values["kind"]
    assert kind is not None
    ok &= present("user_id") & present("kind") & present("timestamp")
    ok &= _bools(pc.is_in(kind, value_set=KINDS), False)
    search = _bools(pc.equal(kind, "search"), False)
    purchase = _bools(pc.equal(kind, "purchase"), False)
    ok &= np.where(search, present("query"), present("item_id"))
    ok &= ~present("quantity") | purchase
    if known_items is not None and values["item_id"] is not None:
        ok &= ~present("item_id") | _bools(
            pc.is_in(values["item_id"], value_set=known_items), False
        )
    # Rows without an event id get one from their content, as the row-by-row path does.
    derive = ok & ~present("event_id")
    passed = np.flatnonzero(ok)
    rest = np.flatnonzero(~ok).astype(np.int64)
    taken = pa.array(passed, pa.int64())
    columns: list[list[Any]] = []
    for name in EVENT_COLUMNS:
        column = values[name]
        columns.append([None] * passed.size if column is None else column.take(taken).to_pylist())
    if derive.any():
        where = np.flatnonzero(derive[passed])
        records = _records(batch, passed[where], numbers)
        for k, (_, record) in zip(where, records, strict=True):
            assert isinstance(record, dict)
            columns[0][k] = derive_event_id(record)
    rows = list(zip(numbers[passed].tolist(), *columns, strict=True))
    return Screened(rows, rest, _records(batch, rest, numbers))


def _records(
    batch: pa.RecordBatch, positions: npt.NDArray[np.int64], numbers: npt.NDArray[np.int64]
) -> list[Record]:
    """What the file reader gives for these rows: ``(row number, {column: value})`` with
    null values left out."""
    if positions.size == 0:
        return []
    part = batch.take(pa.array(positions, pa.int64()))
    names = part.schema.names
    columns = [column.to_pylist() for column in part.columns]
    return [
        (int(numbers[p]), {k: v for k, v in zip(names, row, strict=True) if v is not None})
        for p, row in zip(positions, zip(*columns, strict=True), strict=True)
    ]


def parquet_event_batches(
    path: Path, mapping: dict[str, str], ignored: list[str], batch_size: int = 50_000
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The file's batches with columns renamed by ``mapping`` and ``ignored`` ones left
    out, each with the number of its first row (rows count from 1, as the reader's)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names = [mapping.get(n, n) for n in parquet.schema_arrow.names]
    keep = [i for i, name in enumerate(names) if name not in ignored]
    first = 1
    for batch in parquet.iter_batches(batch_size=batch_size):
        renamed = pa.RecordBatch.from_arrays(
            [batch.column(i) for i in keep], names=[names[i] for i in keep]
        )
        yield first, renamed
        first += batch.num_rows


class StorageRows(list[tuple[Any, ...]]):
    """Rows the column check passed, ready to store (see :class:`Screened`)."""


def parquet_event_records(
    path: Path,
    mapping: dict[str, str],
    ignored: list[str],
    known_items: set[str] | None = None,
    max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> Iterator[Record | StorageRows]:
    """A Parquet events file for :func:`~shopsense.ingest.ingester.ingest_events`: per
    batch, the rows the column check passed as one :class:`StorageRows` block, then the
    records of the others."""
    known = None if known_items is None else pa.array(sorted(known_items), pa.string())
    with readable(path):
        for first, batch in parquet_event_batches(path, mapping, ignored):
            screened = screen_events(batch, first, known, max_clock_skew_s)
            if screened.rows:
                yield StorageRows(screened.rows)
            yield from screened.records
