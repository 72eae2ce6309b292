"""S3-Rec and SASRec sequence files, on tiny files with known contents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import UnknownFormatError, ValidationError
from shopsense.ingest.datasets import detect_sequence_format, read_dataset, read_sequences


def _at(minutes: int) -> datetime:
    return datetime(2000, 1, 1, 0, minutes, tzinfo=UTC)


def _purchase(event_id: str, user: str, item: str, minutes: int) -> Event:
    return Event(
        event_id=event_id,
        user_id=user,
        kind=EventKind.PURCHASE,
        item_id=item,
        quantity=1,
        timestamp=_at(minutes),
    )


@pytest.fixture
def s3rec_file(tmp_path: Path) -> Path:
    file = tmp_path / "Tiny.txt"
    file.write_text("1 10 11 12\n2 11 3\n", encoding="utf-8")
    (tmp_path / "Tiny_item2attributes.json").write_text(
        json.dumps({"10": [1, 2], "11": [3], "12": []}), encoding="utf-8"
    )
    (tmp_path / "asin").mkdir()
    (tmp_path / "asin" / "Tiny_id2asin.tsv").write_text(
        "s3rec_item_id\tasin\n10\tB010\n3\tB003\n", encoding="utf-8"
    )
    return file


def test_s3rec_products_and_events(s3rec_file: Path) -> None:
    dataset = read_dataset("s3rec", s3rec_file)

    assert dataset.name == "Tiny"
    assert list(dataset.products) == [
        Product(id="3", title="Tiny item 3", attributes={"asin": "B003"}),
        Product(id="10", title="Tiny item 10", attributes={"attribute_ids": "1 2", "asin": "B010"}),
        Product(id="11", title="Tiny item 11", attributes={"attribute_ids": "3"}),
        Product(id="12", title="Tiny item 12", attributes={"attribute_ids": ""}),
    ]
    assert list(dataset.events) == [
        _purchase("s3rec:Tiny:1:0", "1", "10", 0),
        _purchase("s3rec:Tiny:1:1", "1", "11", 1),
        _purchase("s3rec:Tiny:1:2", "1", "12", 2),
        _purchase("s3rec:Tiny:2:0", "2", "11", 0),
        _purchase("s3rec:Tiny:2:1", "2", "3", 1),
    ]


def test_streams_can_be_read_twice(s3rec_file: Path) -> None:
    dataset = read_dataset("s3rec", s3rec_file)
    assert list(dataset.events) == list(dataset.events)
    assert list(dataset.products) == list(dataset.products)


def test_s3rec_folder_and_sequences(s3rec_file: Path) -> None:
    assert read_sequences("s3rec", s3rec_file.parent) == {"1": ["10", "11", "12"], "2": ["11", "3"]}
    assert read_dataset("s3rec", s3rec_file.parent).name == "Tiny"


def test_sasrec_rows_join_per_user_in_file_order(tmp_path: Path) -> None:
    file = tmp_path / "Games.txt"
    file.write_text("1 5\n1 6\n2 5\n\n1 7\n", encoding="utf-8")

    assert read_sequences("sasrec", file) == {"1": ["5", "6", "7"], "2": ["5"]}
    dataset = read_dataset("sasrec", file)
    assert [p.id for p in dataset.products] == ["5", "6", "7"]
    assert [(e.event_id, e.timestamp) for e in dataset.events] == [
        ("sasrec:Games:1:0", _at(0)),
        ("sasrec:Games:1:1", _at(1)),
        ("sasrec:Games:1:2", _at(2)),
        ("sasrec:Games:2:0", _at(0)),
    ]


def test_detect_sequence_format(tmp_path: Path) -> None:
    s3rec = tmp_path / "a.txt"
    s3rec.write_text("1 2\n2 3 4\n", encoding="utf-8")
    sasrec = tmp_path / "b.txt"
    sasrec.write_text("1 2\n1 3\n", encoding="utf-8")
    assert detect_sequence_format(s3rec) == "s3rec"
    assert detect_sequence_format(sasrec) == "sasrec"


def test_wrong_layout_names_the_right_format(tmp_path: Path) -> None:
    sasrec = tmp_path / "Video.txt"
    sasrec.write_text("1 2\n1 3\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="format 'sasrec'") as error:
        read_sequences("s3rec", sasrec)
    assert (error.value.source, error.value.row) == ("Video.txt", 2)

    s3rec = tmp_path / "Beauty.txt"
    s3rec.write_text("1 2 3\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="format 's3rec'"):
        read_sequences("sasrec", s3rec)


def test_user_without_items_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "x.txt"
    file.write_text("1 2\n7\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="user '7' has no items"):
        read_sequences("s3rec", file)


def test_folder_with_several_files_lists_them(s3rec_file: Path) -> None:
    (s3rec_file.parent / "Other.txt").write_text("1 2 3\n", encoding="utf-8")
    with pytest.raises(UnknownFormatError, match=r"Other\.txt, Tiny\.txt"):
        read_dataset("s3rec", s3rec_file.parent)
