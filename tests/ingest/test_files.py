"""File readers against damaged and hostile files (issue 12): each is refused by name,
quickly and in bounded memory, or read as the user meant (a byte-order mark)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from shopsense.errors import IngestError, UnknownFormatError
from shopsense.ingest import files
from shopsense.ingest.files import read_header, read_records
from shopsense.ingest.ingester import ingest_events_file
from shopsense.store import SqlStore

CSV = "id,title\nP1,Mug\nP2,Knife\n"


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    """Regression: "column 'id' is missing (found: \\ufeffid, ...)"."""
    plain = tmp_path / "bom.csv"
    plain.write_bytes(b"\xef\xbb\xbf" + CSV.encode())
    packed = tmp_path / "bom.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        assert read_header(path) == ["id", "title"]
        first, _second = read_records(path)
        assert first == (1, {"id": "P1", "title": "Mug"})


def test_a_truncated_gzip_is_refused_by_name(tmp_path: Path) -> None:
    """Regression: a truncated .gz gave an EOFError traceback."""
    whole = gzip.compress((CSV * 2000).encode())
    path = tmp_path / "catalog.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnknownFormatError, match=r"catalog\.csv\.gz: damaged or truncated"):
        list(read_records(path))


def test_plain_text_named_gz_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    path.write_text(CSV)
    with pytest.raises(UnknownFormatError, match=r"events\.csv\.gz: damaged or truncated"):
        read_header(path)


@pytest.mark.parametrize("name", ["long.csv.gz", "long.jsonl.gz", "long.csv"])
def test_an_endless_line_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Regression: a 1 MB .gz holding a 1 GiB line took 29 s and 2.2 GB before refusal."""
    monkeypatch.setattr(files, "MAX_LINE_CHARS", 10_000)
    text = "id,title\n" + "P1," + "x" * 50_000 + "\n"
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    with pytest.raises(UnknownFormatError, match=r"line \d is longer than 10,000 characters"):
        list(read_records(path))


def test_decompression_stops_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_DECOMPRESSED_BYTES", 100_000)
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(("id,title\n" + "P1,Mug\n" * 50_000).encode()))
    with pytest.raises(UnknownFormatError, match=r"bomb\.csv\.gz: expands to more than 100,000"):
        list(read_records(path))


def test_too_many_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(5000)) + "\n")
    with pytest.raises(UnknownFormatError, match="5,000 columns"):
        read_header(path)
    wide = tmp_path / "wide.jsonl"
    wide.write_text("{" + ",".join(f'"c{i}": 1' for i in range(5000)) + "}\n")
    ((_, record),) = read_records(wide)
    assert "5,000 fields" in str(record)


def test_future_and_huge_values_in_a_file_name_row_and_field(tmp_path: Path) -> None:
    """Regression: quantity 10^20 crashed the CLI with an OverflowError traceback; a year
    9999 timestamp was stored and made one product "trending"."""
    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,user_id,kind,item_id,quantity,timestamp\n"
        "E1,U1,purchase,P1,2,2026-01-01T10:00:00Z\n"
        "E2,U1,purchase,P1,100000000000000000000,2026-01-01T10:00:00Z\n"
        "E3,U1,view,P1,,9999-12-31T00:00:00Z\n"
    )
    with pytest.raises(IngestError) as caught:
        ingest_events_file(store.events, path)
    assert caught.value.total == 2
    assert [(f.row, f.field) for f in caught.value.failures] == [(2, "quantity"), (3, "timestamp")]
    assert store.events.count() == 0


def test_ids_repeated_in_a_file_are_reported(tmp_path: Path) -> None:
    """Regression (issue 12): a catalog with one id twice reported "2 stored" for one
    product; an event reusing a stored id for a different event was dropped silently."""
    from shopsense.ingest.ingester import ingest_catalog_file

    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("id,title\nP1,Mug\nP2,Knife\nP1,Big mug\n")
    report = ingest_catalog_file(store.catalog, catalog)
    assert (report.written, report.repeated) == (2, 1)
    assert "1 rows repeat an earlier row's id (the later row wins)" in report.summary()
    assert store.catalog.count() == 2
    first = tmp_path / "a.csv"
    first.write_text("event_id,user_id,kind,item_id,timestamp\nE1,U1,view,P1,2026-01-01\n")
    ingest_events_file(store.events, first)
    again = tmp_path / "b.csv"
    again.write_text(
        "event_id,user_id,kind,item_id,timestamp\n"
        "E1,U1,view,P1,2026-01-01\n"  # the same event: a duplicate, fine
        "E2,U1,view,P2,2026-01-01\n"
        "E1,U1,purchase,P2,2026-01-01\n"  # another event under E1
    )
    with pytest.raises(IngestError) as caught:
        ingest_events_file(store.events, again)
    failure = caught.value.failures[0]
    assert (failure.row, failure.field) == (3, "event_id")
    assert "already stored for a different event" in failure.reason
    assert store.events.count() == 1  # nothing from the file
