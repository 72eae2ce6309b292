"""File ingestion: validation, all-or-nothing, idempotency, formats and column mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopsense.errors import IngestError, UnknownFormatError, ValidationError
from shopsense.ingest.ingester import ingest_catalog_file, ingest_events_file
from shopsense.store import SqlStore

CATALOG = """id,title,description,category,brand,price,currency,in_stock,attributes
P1,Trail shoe,Waterproof,Sports > Running > Shoes,Trailmark,89.5,USD,true,"{""color"":""blue""}"
P2,Chef knife,,Home > Kitchen > Knives,Edge,35,,false,
P3,Phone case,Slim,Electronics > Phones > Cases,,12,,,
"""

EVENTS = """\
event_id,user_id,session_id,kind,item_id,query,request_id,position,quantity,price,timestamp
E1,U1,S1,impression,P1,,R1,0,,,2026-01-01T10:00:00Z
E2,U1,S1,click,P1,,R1,0,,,2026-01-01T10:00:05Z
E3,U1,S1,search,,trail shoes,,,,,2026-01-01T10:00:06Z
E4,U1,S1,purchase,P1,,,,2,89.5,2026-01-01T10:05:00Z
E5,U2,S2,view,P2,,,,,,2026-01-02T09:00:00+02:00
"""


@pytest.fixture
def sql(tmp_path: Path) -> SqlStore:
    return SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_catalog_and_events_csv(sql: SqlStore, tmp_path: Path) -> None:
    report = ingest_catalog_file(sql.catalog, write(tmp_path, "catalog.csv", CATALOG))
    assert (report.rows, report.written) == (3, 3)
    shoe = sql.catalog.get("P1")
    assert shoe is not None
    assert shoe.attributes == {"color": "blue"}
    assert shoe.category == ("Sports", "Running", "Shoes")
    knife = sql.catalog.get("P2")
    assert knife is not None
    assert knife.in_stock is False
    assert knife.description == ""
    events = write(tmp_path, "events.csv", EVENTS)
    report = ingest_events_file(sql.events, events, known_items=sql.catalog.ids())
    assert (report.rows, report.written, report.duplicates) == (5, 5, 0)
    assert sql.events.user_count() == 2


def test_bad_row_writes_nothing_and_names_row_and_field(sql: SqlStore, tmp_path: Path) -> None:
    sql.catalog.upsert([])
    ingest_catalog_file(sql.catalog, write(tmp_path, "catalog.csv", CATALOG))
    bad = EVENTS.replace("E4,U1,S1,purchase,P1,,,,2,", "E4,U1,S1,purchase,P1,,,,zero,")
    with pytest.raises(IngestError) as exc:
        ingest_events_file(sql.events, write(tmp_path, "events.csv", bad))
    message = str(exc.value)
    assert message.startswith("events.csv: row 4, field 'quantity':")
    assert "nothing was written" in message
    assert "\n" not in message
    assert sql.events.count() == 0


def test_bad_row_after_a_full_batch_still_writes_nothing(sql: SqlStore, tmp_path: Path) -> None:
    rows = [f"E{i},U1,view,P1,2026-01-01T10:00:00Z" for i in range(25_000)]
    rows.append("E-bad,U1,view,P1,not-a-time")
    path = write(tmp_path, "big.csv", "event_id,user_id,kind,item_id,timestamp\n" + "\n".join(rows))
    with pytest.raises(IngestError) as exc:
        ingest_events_file(sql.events, path)
    assert "row 25001, field 'timestamp'" in str(exc.value)
    assert sql.events.count() == 0


def test_error_counts_all_bad_rows(sql: SqlStore, tmp_path: Path) -> None:
    text = "event_id,user_id,kind,item_id,timestamp\n" + "\n".join(
        f"E{i},U1,{'bogus' if i % 2 else 'view'},P1,2026-01-01T10:00:00Z" for i in range(6)
    )
    with pytest.raises(IngestError) as exc:
        ingest_events_file(sql.events, write(tmp_path, "e.csv", text))
    assert exc.value.total == 3
    assert "(2 more invalid rows)" in str(exc.value)


def test_skip_invalid_stores_the_valid_rows(sql: SqlStore, tmp_path: Path) -> None:
    bad = EVENTS.replace("E5,U2,S2,view,P2", "E5,U2,S2,view,")
    report = ingest_events_file(sql.events, write(tmp_path, "e.csv", bad), skip_invalid=True)
    assert (report.written, report.skipped) == (4, 1)
    assert "row 5, field 'item_id'" in str(report.failures[0])
    assert sql.events.count() == 4


def test_unknown_products_are_refused_unless_allowed(sql: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", EVENTS)
    with pytest.raises(IngestError, match="unknown product id 'P1'"):
        ingest_events_file(sql.events, path, known_items=set())
    assert ingest_events_file(sql.events, path, known_items=None).written == 5


def test_same_file_twice_changes_no_counts(sql: SqlStore, tmp_path: Path) -> None:
    catalog = write(tmp_path, "catalog.csv", CATALOG)
    events = write(tmp_path, "events.csv", EVENTS)
    ingest_catalog_file(sql.catalog, catalog)
    ingest_events_file(sql.events, events)
    again = ingest_events_file(sql.events, events)
    ingest_catalog_file(sql.catalog, catalog)
    assert (again.written, again.duplicates) == (0, 5)
    assert (sql.catalog.count(), sql.events.count(), sql.events.user_count()) == (3, 5, 2)


def test_files_without_event_ids_get_stable_ones(sql: SqlStore, tmp_path: Path) -> None:
    text = (
        "user_id,kind,item_id,timestamp\n"
        "U1,view,P1,2026-01-01T10:00:00Z\nU1,view,P2,2026-01-01T10:01:00Z\n"
    )
    path = write(tmp_path, "e.csv", text)
    assert ingest_events_file(sql.events, path).written == 2
    assert ingest_events_file(sql.events, path).written == 0


def test_mapping_renames_columns(sql: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "sku,name,cost\nA1,Mug,3.5\n")
    report = ingest_catalog_file(
        sql.catalog, path, mapping={"sku": "id", "name": "title", "cost": "price"}
    )
    assert report.written == 1
    mug = sql.catalog.get("A1")
    assert mug is not None
    assert mug.price == 3.5


def test_missing_required_column_is_named(sql: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "sku,title\nA1,Mug\n")
    with pytest.raises(ValidationError, match=r"column 'id' is missing .*--map SOURCE=id"):
        ingest_catalog_file(sql.catalog, path)


def test_unknown_columns_are_ignored_and_reported(sql: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,title,colour\nA1,Mug,red\n")
    report = ingest_catalog_file(sql.catalog, path)
    assert report.ignored_columns == ["colour"]
    assert report.written == 1


def test_ragged_csv_row_is_a_row_error(sql: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,title\nA1,Mug\nA2,Cup,extra\n")
    with pytest.raises(IngestError, match="row 2, field '\\(row\\)': has 3 cells"):
        ingest_catalog_file(sql.catalog, path)
    assert sql.catalog.count() == 0


def test_jsonl_and_parquet(sql: SqlStore, tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "J1",
                    "title": "Lamp",
                    "category": ["Home", "Lighting"],
                    "attributes": {"w": 40},
                },
                {"id": "J2", "title": "Desk", "price": 120, "in_stock": False},
            ]
        )
    )
    assert ingest_catalog_file(sql.catalog, jsonl).written == 2
    lamp = sql.catalog.get("J1")
    assert lamp is not None
    assert lamp.category_path == "Home > Lighting"
    table = pa.table(
        {
            "event_id": ["X1", "X2"],
            "user_id": ["U9", "U9"],
            "kind": ["view", "purchase"],
            "item_id": ["J1", "J2"],
            "quantity": [None, 1],
            "timestamp": pa.array(
                [1_767_000_000_000_000, 1_767_000_100_000_000], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    report = ingest_events_file(sql.events, tmp_path / "e.parquet", known_items=sql.catalog.ids())
    assert report.written == 2


def test_broken_json_line_is_a_row_error(sql: SqlStore, tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "A", "title": "ok"}\n{"id": "B", "title": \n')
    with pytest.raises(IngestError, match=r"c\.jsonl: row 2, field '\(row\)': invalid JSON"):
        ingest_catalog_file(sql.catalog, path)


def test_unknown_file_type(sql: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match=r"unknown file type \.xlsx"):
        ingest_catalog_file(sql.catalog, write(tmp_path, "c.xlsx", "x"))


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad_rows=st.sets(st.integers(min_value=0, max_value=19), max_size=5))
def test_any_bad_row_means_nothing_is_written(tmp_path: Path, bad_rows: set[int]) -> None:
    store = SqlStore("sqlite://")
    lines = [
        f"E{i},U{i % 4},view,P1,{'garbage' if i in bad_rows else '2026-01-01T10:00:00Z'}"
        for i in range(20)
    ]
    path = tmp_path / "e.csv"
    path.write_text("event_id,user_id,kind,item_id,timestamp\n" + "\n".join(lines))
    if bad_rows:
        with pytest.raises(IngestError) as exc:
            ingest_events_file(store.events, path)
        assert exc.value.row == min(bad_rows) + 1
        assert exc.value.total == len(bad_rows)
        assert store.events.count() == 0
    else:
        assert ingest_events_file(store.events, path).written == 20


def test_non_utf8_and_corrupt_parquet_are_clear_errors(sql: SqlStore, tmp_path: Path) -> None:
    latin = tmp_path / "c.csv"
    latin.write_bytes("id,title\nP1,Caf\xe9 mug\n".encode("latin-1"))
    with pytest.raises(UnknownFormatError, match="not UTF-8"):
        ingest_catalog_file(sql.catalog, latin)
    broken = tmp_path / "c.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UnknownFormatError, match="unreadable Parquet"):
        ingest_catalog_file(sql.catalog, broken)
    assert sql.catalog.count() == 0
