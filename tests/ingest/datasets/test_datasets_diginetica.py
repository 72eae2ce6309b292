"""DIGINETICA item views, on tiny files with known contents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import ValidationError
from shopsense.ingest.datasets import read_dataset

_MIDNIGHT = datetime(2016, 3, 20, tzinfo=UTC)


def _view(session: str, user: str, item: str, timeframe: int) -> Event:
    return Event(
        event_id=f"diginetica:{session}:{timeframe}:{item}",
        user_id=user,
        session_id=session,
        kind=EventKind.VIEW,
        item_id=item,
        timestamp=_MIDNIGHT + timedelta(milliseconds=timeframe),
    )


@pytest.fixture
def views_file(tmp_path: Path) -> Path:
    file = tmp_path / "train-item-views.csv"
    file.write_text(
        "sessionId;userId;itemId;timeframe;eventdate\n"
        "1;NA;81;5000;2016-03-20\n"
        "1;NA;82;1000;2016-03-20\n"
        # session 2 passes midnight: the 2016-03-21 view keeps its timeframe from 03-20
        "2;NA;83;86000000;2016-03-20\n"
        "2;NA;81;86500000;2016-03-21\n"
        # session 3: anonymous until the shopper logs in as user 7
        "3;NA;84;10;2016-03-20\n"
        "3;7;85;20;2016-03-20\n",
        encoding="utf-8",
    )
    return file


def test_views_become_events_per_user_in_time_order(views_file: Path) -> None:
    dataset = read_dataset("diginetica", views_file)

    assert dataset.name == "train-item-views"
    assert list(dataset.events) == [
        _view("1", "anon-1", "82", 1000),
        _view("1", "anon-1", "81", 5000),
        _view("2", "anon-2", "83", 86000000),
        _view("2", "anon-2", "81", 86500000),
        _view("3", "7", "84", 10),
        _view("3", "7", "85", 20),
    ]
    assert list(dataset.products) == [
        Product(id=item, title=f"item {item}") for item in ("81", "82", "83", "84", "85")
    ]


def test_without_header_and_from_the_folder(views_file: Path) -> None:
    with_header = list(read_dataset("diginetica", views_file).events)
    lines = views_file.read_text(encoding="utf-8").splitlines(keepends=True)
    views_file.write_text("".join(lines[1:]), encoding="utf-8")
    assert list(read_dataset("diginetica", views_file.parent).events) == with_header


def test_snake_case_header(views_file: Path) -> None:
    views_file.write_text(
        "session_id;user_id;item_id;timeframe;eventdate\n1;NA;9;3;2016-03-20\n", encoding="utf-8"
    )
    assert list(read_dataset("diginetica", views_file).events) == [_view("1", "anon-1", "9", 3)]


def test_repeated_row_gets_its_own_id(views_file: Path) -> None:
    views_file.write_text("1;NA;9;3;2016-03-20\n1;NA;9;3;2016-03-20\n", encoding="utf-8")
    ids = [e.event_id for e in read_dataset("diginetica", views_file).events]
    assert ids == ["diginetica:1:3:9", "diginetica:1:3:9:1"]


@pytest.mark.parametrize(
    ("line", "field"),
    [("1;NA;9;soon;2016-03-20", "timeframe"), ("1;NA;9;3;20/03/2016", "eventdate")],
)
def test_invalid_rows_name_row_and_field(views_file: Path, line: str, field: str) -> None:
    views_file.write_text(f"1;NA;9;3;2016-03-20\n{line}\n", encoding="utf-8")
    with pytest.raises(ValidationError) as error:
        list(read_dataset("diginetica", views_file).events)
    assert (error.value.row, error.value.field) == (2, field)
