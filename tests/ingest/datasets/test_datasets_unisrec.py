"""UniSRec / RecBole downstream layout, on a tiny dataset with a history limit of 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsense.domain import Product
from shopsense.errors import UnknownFormatError, ValidationError
from shopsense.ingest.datasets import read_dataset, read_sequences
from shopsense.ingest.datasets.unisrec import ItemText, detect_category_root, parse_item_text

_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"


def _write(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(body, encoding="utf-8")


@pytest.fixture
def unisrec_folder(tmp_path: Path) -> Path:
    """User U0 bought items 0 1 2 3 4 1, user U1 bought 2 0 3; histories keep 2 items."""
    _write(
        tmp_path,
        "Tiny.text",
        "item_id:token\ttext:token_seq\n"
        "A0\tMr. Heater Hose. Tools Hoses. Mr. Heater. \n"
        "A1\tDrill. Tools Power Tools Drills. Bosch. \n"
        "A2\tGloves. . Acme. \n"
        "A3\tTape. Tools Tapes. . \n",
    )
    _write(tmp_path, "Tiny.item2index", "A0\t0\nA1\t1\nA2\t2\nA3\t3\nA4\t4\n")
    _write(tmp_path, "Tiny.user2index", "U0\t0\nU1\t1\n")
    # Train rows longest first, as in the real files; U0's test history lost item 0, 1, 2.
    _write(tmp_path, "Tiny.train.inter", _HEADER + "0\t1 2\t3\n0\t0 1\t2\n0\t0\t1\n")
    _write(tmp_path, "Tiny.valid.inter", _HEADER + "0\t2 3\t4\n1\t2\t0\n")
    _write(tmp_path, "Tiny.test.inter", _HEADER + "0\t3 4\t1\n1\t2 0\t3\n")
    return tmp_path


def test_sequences_are_rebuilt_beyond_the_history_limit(unisrec_folder: Path) -> None:
    assert read_sequences("unisrec", unisrec_folder) == {
        "U0": ["A0", "A1", "A2", "A3", "A4", "A1"],
        "U1": ["A2", "A0", "A3"],
    }


def test_any_file_of_the_dataset_locates_it(unisrec_folder: Path) -> None:
    expected = read_sequences("unisrec", unisrec_folder)
    assert read_sequences("unisrec", unisrec_folder / "Tiny.test.inter") == expected
    assert read_sequences("unisrec", unisrec_folder / "Tiny.text") == expected


def test_products_carry_the_parsed_text(unisrec_folder: Path) -> None:
    dataset = read_dataset("unisrec", unisrec_folder)
    assert dataset.name == "Tiny"
    assert list(dataset.products) == [
        Product(
            id="A0",
            title="Mr. Heater Hose",
            description="Mr. Heater Hose. Tools Hoses. Mr. Heater.",
            category=("Tools", "Hoses"),
            brand="Mr. Heater",
        ),
        Product(
            id="A1",
            title="Drill",
            description="Drill. Tools Power Tools Drills. Bosch.",
            category=("Tools", "Power Tools Drills"),
            brand="Bosch",
        ),
        Product(id="A2", title="Gloves", description="Gloves. . Acme.", brand="Acme"),
        Product(
            id="A3", title="Tape", description="Tape. Tools Tapes. .", category=("Tools", "Tapes")
        ),
        Product(id="A4", title="Tiny A4"),  # in item2index, without text
    ]


def test_events_follow_the_rebuilt_sequences(unisrec_folder: Path) -> None:
    events = list(read_dataset("unisrec", unisrec_folder).events)
    assert [(e.event_id, e.user_id, e.item_id) for e in events[:2]] == [
        ("unisrec:Tiny:U0:0", "U0", "A0"),
        ("unisrec:Tiny:U0:1", "U0", "A1"),
    ]
    assert [e.item_id for e in events if e.user_id == "U1"] == ["A2", "A0", "A3"]
    assert len(events) == 9


def test_rows_that_do_not_chain_are_refused(unisrec_folder: Path) -> None:
    _write(unisrec_folder, "Tiny.valid.inter", _HEADER + "0\t2 9\t4\n1\t2\t0\n")
    with pytest.raises(ValidationError, match="user 0"):
        read_sequences("unisrec", unisrec_folder)


def test_conflicting_rows_are_refused(unisrec_folder: Path) -> None:
    _write(unisrec_folder, "Tiny.valid.inter", _HEADER + "0\t0 1\t4\n1\t2\t0\n")
    with pytest.raises(ValidationError, match="followed by 2 and 4"):
        read_sequences("unisrec", unisrec_folder)


def test_folder_without_inter_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match=r"no \*\.inter files"):
        read_sequences("unisrec", tmp_path)


@pytest.mark.parametrize(
    ("text", "root", "expected"),
    [
        ("Saw. Tools Saws. Acme. ", "Tools", ItemText("Saw", ("Tools", "Saws"), "Acme")),
        ("Saw. . Acme. ", "Tools", ItemText("Saw", (), "Acme")),
        ("Saw. Tools. . ", "Tools", ItemText("Saw", ("Tools",), None)),
        ("Saw. . . ", "Tools", ItemText("Saw", (), None)),
        (
            "No. 5 Saw. Tools Saws. J.V. Co. ",
            "Tools",
            ItemText("No. 5 Saw", ("Tools", "Saws"), "J.V. Co"),
        ),
        ("Saw. Garden Saws. Acme. ", None, ItemText("Saw", ("Garden Saws",), "Acme")),
        ("Just a title", "Tools", ItemText("Just a title", (), None)),
    ],
)
def test_parse_item_text(text: str, root: str | None, expected: ItemText) -> None:
    assert parse_item_text(text, root) == expected


def test_detect_category_root() -> None:
    parts = ["Lab Supplies", "Tapes", "Power Tools"]
    texts = [f"T{i}. Industrial & Scientific {parts[i % 3]}. B. " for i in range(20)]
    texts += ["Odd. Garden. B. ", "Weird. Mr. Title. Tools. B. "]
    assert detect_category_root(texts) == "Industrial & Scientific"
    assert detect_category_root(["Just a title"]) is None
