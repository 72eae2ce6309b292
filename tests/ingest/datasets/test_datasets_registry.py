"""The registry: format names, errors for unknown formats and missing paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsense.errors import ShopSenseError, UnknownFormatError
from shopsense.ingest.datasets import FORMATS, Dataset, read_dataset, read_sequences

_KNOWN = "aliccp, diginetica, s3rec, sasrec, unisrec, yoochoose"


def test_formats() -> None:
    assert sorted(FORMATS) == _KNOWN.split(", ")


def test_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match=f"known formats: {_KNOWN}$"):
        read_dataset("movielens", tmp_path)


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_missing_path_names_it(tmp_path: Path, format_name: str) -> None:
    missing = tmp_path / "nowhere" / "Beauty.txt"
    with pytest.raises(ShopSenseError, match="does not exist") as error:
        read_dataset(format_name, missing)
    assert str(missing) in str(error.value)


def test_read_sequences_refuses_event_logs(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="event log"):
        read_sequences("diginetica", tmp_path)
    with pytest.raises(UnknownFormatError, match="s3rec, sasrec, unisrec"):
        read_sequences("movielens", tmp_path)


def test_string_paths_are_accepted(tmp_path: Path) -> None:
    file = tmp_path / "Tiny.txt"
    file.write_text("1 2 3\n", encoding="utf-8")
    dataset = read_dataset("s3rec", str(file))
    assert isinstance(dataset, Dataset)
    assert read_sequences("s3rec", str(file)) == {"1": ["2", "3"]}
