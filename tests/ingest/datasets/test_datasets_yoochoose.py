"""YooChoose clicks, on a tiny file with known contents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import ValidationError
from shopsense.ingest.datasets import read_dataset


def _click(session: str, raw_time: str, item: str) -> Event:
    return Event(
        event_id=f"yoochoose:{session}:{raw_time}:{item}",
        user_id=f"session-{session}",
        session_id=session,
        kind=EventKind.CLICK,
        item_id=item,
        timestamp=datetime.fromisoformat(raw_time).astimezone(UTC),
    )


@pytest.fixture
def clicks_file(tmp_path: Path) -> Path:
    file = tmp_path / "yoochoose-clicks.dat"
    file.write_text(
        "1,2014-04-07T10:54:09.868Z,100,0\n"
        "1,2014-04-07T10:51:09.277Z,101,S\n"  # earlier than the row above
        "2,2014-04-06T08:00:00.000Z,100,3\n"
        "2,2014-04-06T08:01:00.000Z,101,2090923193\n"
        "2,2014-04-06T08:02:00.000Z,100,5\n",
        encoding="utf-8",
    )
    return file


def test_clicks_per_session_in_time_order(clicks_file: Path) -> None:
    assert list(read_dataset("yoochoose", clicks_file).events) == [
        _click("1", "2014-04-07T10:51:09.277Z", "101"),
        _click("1", "2014-04-07T10:54:09.868Z", "100"),
        _click("2", "2014-04-06T08:00:00.000Z", "100"),
        _click("2", "2014-04-06T08:01:00.000Z", "101"),
        _click("2", "2014-04-06T08:02:00.000Z", "100"),
    ]


def test_products_take_category_brand_and_offer_from_the_context(clicks_file: Path) -> None:
    assert list(read_dataset("yoochoose", clicks_file).products) == [
        Product(id="100", title="item 100", category=("3",)),
        Product(id="101", title="item 101", brand="2090923193", attributes={"special_offer": True}),
    ]


def test_split_session_is_still_read(clicks_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with clicks_file.open("a", encoding="utf-8") as stream:
        stream.write("1,2014-04-07T11:00:00.000Z,102,0\n")
    events = list(read_dataset("yoochoose", clicks_file).events)
    assert [e.item_id for e in events][-1] == "102"
    assert "session 1 continues" in caplog.text


def test_bad_timestamp(clicks_file: Path) -> None:
    clicks_file.write_text("1,yesterday,100,0\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="ISO 8601"):
        list(read_dataset("yoochoose", clicks_file).events)
