"""Parquet event files checked column by column (issue 13, item 1): a row the column check
passes is one the ``Event`` model accepts with exactly the stored values; the rest take the
row-by-row path, and a whole file lands exactly as it did through that path alone."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import StringConstraints, TypeAdapter

from shopsense.domain import Event
from shopsense.errors import IngestError
from shopsense.ingest import columnar
from shopsense.ingest.columnar import EDGE_BLANK, screen_events
from shopsense.ingest.files import derive_event_id, read_records
from shopsense.ingest.ingester import _drop, ingest_events, ingest_events_file
from shopsense.store import SqlStore
from shopsense.store.base import EVENT_COLUMNS, event_row

CONTEXT = {"max_clock_skew_s": 86_400.0}
REQUIRED = ("user_id", "kind", "timestamp")


def test_every_blank_either_trimmer_removes_is_caught_at_either_end() -> None:
    """Known answer: the edge check's class holds every character Python's ``str.strip``
    or pydantic's ``strip_whitespace`` removes (else such a value would skip the strip)."""
    trimmed = TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True)])
    blanks = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        c = chr(code)
        if c.isspace() or trimmed.validate_python(f"a{c}") != f"a{c}":
            blanks.append(c)
    assert len(blanks) >= 25
    leading = pc.match_substring_regex(pa.array([f"{c}a" for c in blanks]), EDGE_BLANK)
    trailing = pc.match_substring_regex(pa.array([f"a{c}" for c in blanks]), EDGE_BLANK)
    assert all(leading.to_pylist()) and all(trailing.to_pylist())
    inside = pc.match_substring_regex(pa.array([f"a{c}a" for c in blanks]), EDGE_BLANK)
    assert not any(inside.to_pylist())


NOW = datetime.now(UTC)
ids = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8)
clean_ids = ids.filter(lambda t: t == t.strip())
hostile_texts = st.one_of(
    st.sampled_from(["a b", " P1", "P1 ", "\u3000x", "x\xa0", "\x1fx", "", "a\x00b"]),
    st.text(min_size=0, max_size=6),
    st.just("x" * 257),
    st.just("y" * 256),
)
kinds = st.sampled_from(["view", "click", "impression", "add_to_cart", "purchase", "search"])
hostile_kinds = st.sampled_from([" view", "View", "teleport", ""])
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
clean_stamps = st.one_of(
    moments.map(lambda d: d.isoformat()),
    moments.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    moments.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S")),
    st.sampled_from(["2026-01-05T10:00:00.5+02:00", "2026-01-05T10:00:00.123456-05:30"]),
)
hostile_stamps = st.sampled_from(
    [
        "2026-02-30T10:00:00Z",
        "1969-12-31T23:59:59Z",
        "2026-01-05 10:00:00",
        " 2026-01-05T10:00:00Z",
        "2026-01-05T24:00:00Z",
        "1767607200",
        "2026-01-05T10:00:00.1234567Z",
        (NOW + timedelta(days=3)).isoformat(),
        (NOW + timedelta(hours=23)).isoformat(),
    ]
)
clean_ints = st.sampled_from([1, 5, 2**31 - 1])
hostile_ints = st.sampled_from([0, -1, 2**31])
clean_floats = st.sampled_from([0.25, 1.0, 9.5, 1e12])
hostile_floats = st.sampled_from([0.0, 1.5, -0.1, float("nan"), float("inf"), 1e13])
TYPES = {"position": pa.int64(), "quantity": pa.int64(), "propensity": pa.float64()}
TYPES["price"] = pa.float64()


@st.composite
def event_row_values(draw: Any, clean: bool) -> dict[str, Any]:
    """One row's values: ``clean`` ones are valid events; the others mix in hostile ones."""

    def pick(good: Any, bad: Any, optional: bool = True) -> Any:
        choices = [good] if clean else [good, bad]
        if optional:
            choices.append(st.none())
        return draw(st.one_of(*choices))

    kind = draw(kinds if clean else st.one_of(kinds, hostile_kinds))
    row = {
        "event_id": pick(clean_ids, hostile_texts),
        "user_id": pick(clean_ids, hostile_texts, optional=not clean),
        "session_id": pick(clean_ids, hostile_texts),
        "kind": kind,
        "item_id": pick(clean_ids, hostile_texts, optional=not clean or kind == "search"),
        "query": pick(clean_ids, hostile_texts, optional=not clean or kind != "search"),
        "request_id": pick(clean_ids, hostile_texts),
        "position": pick(clean_ints, hostile_ints),
        "quantity": pick(clean_ints, hostile_ints) if kind == "purchase" or not clean else None,
        "propensity": pick(clean_floats.filter(lambda v: v <= 1), hostile_floats),
        "price": pick(clean_floats, hostile_floats),
        "timestamp": pick(clean_stamps, hostile_stamps, optional=False),
    }
    return row


@st.composite
def batches(draw: Any) -> pa.RecordBatch:
    n = draw(st.integers(1, 12))
    rows = [draw(event_row_values(draw(st.booleans()))) for _ in range(n)]
    present = [c for c in EVENT_COLUMNS if c in REQUIRED or draw(st.booleans())]
    data = {c: pa.array([r[c] for r in rows], TYPES.get(c, pa.string())) for c in present}
    if draw(st.booleans()):  # typed timestamps, as an export writes them
        parsed = []
        for text in data["timestamp"].to_pylist():
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            parsed.append(moment)
        unit = draw(st.sampled_from(["s", "ms", "us"]))
        data["timestamp"] = pa.array(parsed, pa.timestamp(unit, "UTC"))
    return pa.record_batch(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_a_row_the_column_check_passes_is_the_row_the_model_stores(
    batch: pa.RecordBatch,
) -> None:
    screened = screen_events(batch, first_row=7)
    passed = [row[0] for row in screened.rows]
    rest = [row for row, _ in screened.records]
    assert sorted(passed + rest) == list(range(7, 7 + batch.num_rows))
    assert [7 + int(p) for p in screened.rest] == rest
    everything = np.arange(batch.num_rows)
    records = dict(columnar._records(batch, everything, everything + 7))
    for stored in screened.rows:
        record = dict(records[stored[0]])
        assert isinstance(record, dict)
        if "event_id" not in record:
            record["event_id"] = derive_event_id(record)
        event = Event.model_validate(record, context=CONTEXT)
        assert (stored[0], *event_row(event)) == stored


def test_a_batch_of_types_the_check_does_not_know_goes_row_by_row() -> None:
    batch = pa.record_batch(
        {
            "user_id": ["u1"],
            "kind": ["view"],
            "item_id": ["P1"],
            "timestamp": ["2026-01-05T10:00:00Z"],
            "position": pa.array([1.0]),  # a float position: the model decides
        }
    )
    screened = screen_events(batch, first_row=1)
    assert screened.rows == [] and screened.rest.tolist() == [0]


def test_products_outside_the_catalog_are_left_to_the_model() -> None:
    batch = pa.record_batch(
        {
            "event_id": ["e1", "e2", "e3"],
            "user_id": ["u1", "u1", "u1"],
            "kind": ["view", "view", "search"],
            "item_id": ["P1", "P404", None],
            "query": [None, None, "mug"],
            "timestamp": ["2026-01-05T10:00:00Z"] * 3,
        }
    )
    screened = screen_events(batch, 1, known_items=pa.array(["P1"]))
    assert [row[1] for row in screened.rows] == ["e1", "e3"]
    assert screened.rest.tolist() == [1]


def _stored(store: SqlStore) -> list[tuple[Any, ...]]:
    """Every stored event as a storage row, by event id."""
    rows = []
    for batch in store.events.iter_batches():
        columns = [getattr(batch, c).tolist() for c in EVENT_COLUMNS]
        rows += [
            tuple(None if isinstance(v, float) and v != v else v for v in row)  # NaN: none
            for row in zip(*columns, strict=True)
        ]
    return sorted(rows, key=lambda r: str(r[0]))


def _file(tmp_path: Path, rows: list[dict[str, Any]], name: str = "events.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3)
    return path


def _mixed(n: int, bad: set[int]) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "event_id": f"E{i}",
            "user_id": f"U{i % 4}",
            "kind": "view" if i % 5 else "purchase",
            "item_id": f"P{i % 3}",
            "quantity": None if i % 5 else 2,
            "timestamp": f"2026-01-05T10:{i % 60:02d}:00Z",
            "extra": "ignored",
        }
        if i in bad:
            row["kind"] = "teleport" if i % 2 else " view"  # no kind is trimmed
        rows.append(row)
    return rows


@pytest.mark.parametrize("skip", [False, True])
def test_a_file_lands_exactly_as_through_the_row_by_row_path(tmp_path: Path, skip: bool) -> None:
    path = _file(tmp_path, _mixed(40, bad={4, 7, 21}))
    fast, slow = SqlStore("sqlite://"), SqlStore("sqlite://")
    reports = []
    for store, records in (
        (fast, None),
        (slow, _drop(read_records(path, {}), ["extra"])),
    ):
        try:
            if records is None:
                report = ingest_events_file(store.events, path, skip_invalid=skip)
            else:
                report = ingest_events(store.events, records, path.name, skip_invalid=skip)
            reports.append(
                (report.rows, report.written, report.skipped, list(map(str, report.failures)))
            )
        except IngestError as exc:
            reports.append(("refused", str(exc)))
    assert reports[0] == reports[1]
    stored = [_stored(s) for s in (fast, slow)]
    assert stored[0] == stored[1]
    assert len(stored[0]) == (37 if skip else 0)


def test_an_exported_log_ingests_back_unchanged(tmp_path: Path) -> None:
    from shopsense.store.export import EVENT_SCHEMA

    moments = [datetime(2026, 1, 5, 10, tzinfo=UTC) + timedelta(seconds=i) for i in range(5)]
    table = pa.table(
        {
            "event_id": [f"E{i}" for i in range(5)],
            "user_id": ["U1"] * 5,
            "session_id": [None, "S1", "S1", "S1", "S1"],
            "kind": ["impression", "click", "add_to_cart", "purchase", "search"],
            "item_id": ["P1", "P1", "P1", "P1", None],
            "query": [None, None, None, None, "blue mug"],
            "request_id": ["R1", "R1", None, None, "R2"],
            "position": [0, 0, None, None, None],
            "propensity": [0.5, None, None, None, None],
            "quantity": [None, None, None, 3, None],
            "price": [None, None, None, 9.5, None],
            "timestamp": moments,
        },
        schema=EVENT_SCHEMA,
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    screened = screen_events(table.to_batches()[0], 1)
    assert len(screened.rows) == 5
    store = SqlStore("sqlite://")
    report = ingest_events_file(store.events, path)
    assert report.written == 5
    assert [row[3] for row in _stored(store)] == [
        "impression", "click", "add_to_cart", "purchase", "search"
    ]  # fmt: skip
