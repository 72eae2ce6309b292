"""Ali-CCP (ESMM layout), on tiny files with known contents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import UnknownFormatError, ValidationError
from shopsense.ingest.datasets import load_aliccp, read_dataset

_HEADER = "click,purchase,101,205,206,207,216,D508\n"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def aliccp_folder(tmp_path: Path) -> Path:
    (tmp_path / "ali_ccp_train.csv").write_text(
        _HEADER + "0,0,1,7,3,4,5,0.5\n1,1,2,8,3,6,0,0.25\n", encoding="utf-8"
    )
    (tmp_path / "ali_ccp_val.csv").write_text(_HEADER + "1,0,1,0,9,9,9,0.0\n", encoding="utf-8")
    (tmp_path / "ali_ccp_test.csv").write_text(_HEADER + "0,0,2,0,8,8,8,1.0\n", encoding="utf-8")
    return tmp_path


def _event(file: str, row: int, split: int, kind: EventKind, user: str, item: str) -> Event:
    request = f"aliccp:{file}:{row}"
    offset = {EventKind.IMPRESSION: 0, EventKind.CLICK: 100, EventKind.PURCHASE: 200}[kind]
    return Event(
        event_id=f"{request}:{kind.value}",
        user_id=user,
        kind=kind,
        item_id=item,
        request_id=None if kind is EventKind.PURCHASE else request,
        position=None if kind is EventKind.PURCHASE else 0,
        quantity=1 if kind is EventKind.PURCHASE else None,
        timestamp=_EPOCH + timedelta(days=1000 * split, seconds=row, milliseconds=offset),
    )


def test_rows_become_impressions_clicks_and_purchases(aliccp_folder: Path) -> None:
    dataset = read_dataset("aliccp", aliccp_folder)
    assert dataset.name == "ali_ccp"
    imp, click, buy = EventKind.IMPRESSION, EventKind.CLICK, EventKind.PURCHASE
    assert list(dataset.events) == [
        _event("ali_ccp_train", 1, 0, imp, "1", "7"),
        _event("ali_ccp_train", 2, 0, imp, "2", "8"),
        _event("ali_ccp_train", 2, 0, click, "2", "8"),
        _event("ali_ccp_train", 2, 0, buy, "2", "8"),
        _event("ali_ccp_val", 1, 1, imp, "1", "0"),
        _event("ali_ccp_val", 1, 1, click, "1", "0"),
        _event("ali_ccp_test", 1, 2, imp, "2", "0"),
    ]
    # a single file gives the same events as its part of the folder
    val = list(read_dataset("aliccp", aliccp_folder / "ali_ccp_val.csv").events)
    assert val == list(dataset.events)[4:6]


def test_products_keep_the_attributes_their_rows_agree_on(aliccp_folder: Path) -> None:
    assert list(read_dataset("aliccp", aliccp_folder).products) == [
        Product(
            id="7",
            title="item 7",
            attributes={"category_id": "3", "shop_id": "4", "brand_id": "5"},
        ),
        Product(
            id="8",
            title="item 8",
            attributes={"category_id": "3", "shop_id": "6", "brand_id": "0"},
        ),
        Product(id="0", title="item 0"),  # seen with categories 9 and 8: a shared bucket
    ]


def test_load_aliccp_arrays(aliccp_folder: Path) -> None:
    sample = load_aliccp(aliccp_folder)
    assert sample.field_names == ("101", "205", "206", "207", "216", "D508")
    assert sample.features.shape == (4, 6)
    np.testing.assert_array_equal(sample.column("205"), [7, 8, 0, 0])
    np.testing.assert_array_equal(sample.column("D508"), [0.5, 0.25, 0.0, 1.0])
    np.testing.assert_array_equal(sample.click, np.array([0, 1, 1, 0], dtype=np.int8))
    np.testing.assert_array_equal(sample.purchase, np.array([0, 1, 0, 0], dtype=np.int8))
    assert sample.rows_per_source == (2, 1, 1)
    assert sample.dense_fields == ("D508",)
    with pytest.raises(KeyError, match="no Ali-CCP field '999'"):
        sample.column("999")


def test_missing_item_field(tmp_path: Path) -> None:
    file = tmp_path / "ali_ccp_train.csv"
    file.write_text("click,purchase,101\n0,0,1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"missing column\(s\) 205"):
        list(read_dataset("aliccp", file).events)


def test_bad_label(aliccp_folder: Path) -> None:
    (aliccp_folder / "ali_ccp_test.csv").write_text(_HEADER + "2,0,2,0,8,8,8,1.0\n")
    with pytest.raises(ValidationError, match="expected 0 or 1"):
        list(read_dataset("aliccp", aliccp_folder).events)


def test_folder_without_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="no Ali-CCP file"):
        load_aliccp(tmp_path)
