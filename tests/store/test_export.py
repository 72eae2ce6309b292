"""Parquet export: day partitions that any engine reads back exactly, written again only
when a day changed (late events, deleted shoppers), and the catalog."""

from __future__ import annotations

import contextlib
import io
from datetime import timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from factories import T0, event, product
from shopsense.cli import main
from shopsense.config import Settings
from shopsense.store import InMemoryStore, SqlStore, open_store
from shopsense.store.export import export_catalog, export_events

DAY = timedelta(days=1)


def read_back(out: Path) -> list[dict[str, object]]:
    dataset = ds.dataset(out / "events", format="parquet", partitioning="hive")
    rows = dataset.to_table().to_pylist()
    return sorted(rows, key=lambda r: str(r["event_id"]))


def three_days(store: SqlStore | InMemoryStore) -> None:
    store.events.append(
        [
            event(1, item="P1"),
            event(2, item="P2", kind="click", request_id="r1", position=3, propensity=0.25),
            event(3, user="U2", item="P3", timestamp=T0 + DAY),
            event(
                4,
                user="U2",
                kind="purchase",
                item="P3",
                quantity=2,
                price=9.5,
                timestamp=T0 + 2 * DAY,
            ),
        ]
    )


def test_events_round_trip_by_day(store: SqlStore | InMemoryStore, tmp_path: Path) -> None:
    three_days(store)
    report = export_events(store.events, tmp_path)
    assert report.written == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert report.events == 4
    assert sorted(p.name for p in (tmp_path / "events").glob("day=*")) == [
        "day=2026-01-01",
        "day=2026-01-02",
        "day=2026-01-03",
    ]
    rows = read_back(tmp_path)
    assert [r["event_id"] for r in rows] == ["E1", "E2", "E3", "E4"]
    click, purchase = rows[1], rows[3]
    assert (click["kind"], click["request_id"], click["position"]) == ("click", "r1", 3)
    assert click["propensity"] == 0.25
    assert rows[0]["position"] is None and rows[0]["propensity"] is None  # absent, not -1/NaN
    assert (purchase["quantity"], purchase["price"]) == (2, 9.5)
    assert purchase["timestamp"] == T0 + 2 * DAY
    assert str(purchase["day"]) == "2026-01-03"


def test_a_second_run_writes_only_what_changed(
    store: SqlStore | InMemoryStore, tmp_path: Path
) -> None:
    three_days(store)
    export_events(store.events, tmp_path)
    again = export_events(store.events, tmp_path)
    assert (again.written, again.unchanged, again.events) == ([], 3, 0)
    store.events.append([event(5, user="U3", item="P5", timestamp=T0 + DAY)])  # late
    store.events.append([event(6, user="U3", item="P6", timestamp=T0 + 5 * DAY)])  # new day
    later = export_events(store.events, tmp_path)
    assert later.written == ["2026-01-02", "2026-01-06"]
    assert later.unchanged == 2
    assert [r["event_id"] for r in read_back(tmp_path)] == ["E1", "E2", "E3", "E4", "E5", "E6"]


def test_a_deleted_shopper_leaves_the_export(
    store: SqlStore | InMemoryStore, tmp_path: Path
) -> None:
    three_days(store)
    export_events(store.events, tmp_path)
    store.events.delete_user("U2")  # all of day 2 and day 3
    report = export_events(store.events, tmp_path)
    assert report.removed == ["2026-01-02", "2026-01-03"]
    assert [r["event_id"] for r in read_back(tmp_path)] == ["E1", "E2"]
    assert not any(r["user_id"] == "U2" for r in read_back(tmp_path))


def test_a_run_that_died_is_finished_by_the_next(tmp_path: Path) -> None:
    store = InMemoryStore()
    three_days(store)
    (tmp_path / "events" / ".writing-dead" / "day=2026-01-01").mkdir(parents=True)
    export_events(store.events, tmp_path)
    assert not list((tmp_path / "events").glob(".writing-*"))
    assert len(read_back(tmp_path)) == 4


def test_catalog_round_trip(tmp_path: Path) -> None:
    store = InMemoryStore()
    store.catalog.upsert(
        [product(1, brand="Acme", attributes={"size": "M", "organic": True}), product(2)]
    )
    assert export_catalog(store.catalog, tmp_path) == 2
    rows = pq.read_table(tmp_path / "catalog" / "catalog.parquet").to_pylist()
    first = next(r for r in rows if r["id"] == "P1")
    assert first["category"] == ["Home", "Kitchen"]
    assert first["brand"] == "Acme" and first["price"] == 11.0
    assert first["attributes"] == '{"organic": true, "size": "M"}'


def test_the_command_exports_both(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    store.catalog.upsert([product(1), product(2)])
    three_days(store)
    store.close()
    out = io.StringIO()
    args = ["--data-dir", str(settings.data_dir), "export", "all", "--out", str(tmp_path / "x")]
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    assert "events: wrote 3 days (4 events), 0 unchanged, 0 removed" in out.getvalue()
    assert "catalog: 2 products" in out.getvalue()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    assert "events: wrote 0 days (0 events), 3 unchanged" in out.getvalue()
