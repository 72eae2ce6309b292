"""The readers on the public datasets in ../shared/datasets (skipped when absent).

The counts are what the files give; they match each folder's PROVENANCE.md. Events are
streamed, never held in a list, so the whole module runs in seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from shopsense.domain import Event
from shopsense.ingest.datasets import load_aliccp, read_dataset, read_sequences


@dataclass
class _Summary:
    """What one pass over a dataset's events shows."""

    events: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    sequences: dict[str, list[str]] = field(default_factory=dict)
    strictly_increasing: bool = True  # timestamps, within each user
    non_decreasing: bool = True
    distinct_ids: int = 0


def _summarize(events: Iterable[Event]) -> _Summary:
    summary = _Summary()
    ids: set[str] = set()
    last: dict[str, datetime] = {}
    for event in events:
        summary.events += 1
        summary.kinds[event.kind.value] += 1
        ids.add(event.event_id)
        summary.sequences.setdefault(event.user_id, []).append(event.item_id or "")
        previous = last.get(event.user_id)
        if previous is not None:
            summary.strictly_increasing &= event.timestamp > previous
            summary.non_decreasing &= event.timestamp >= previous
        last[event.user_id] = event.timestamp
    summary.distinct_ids = len(ids)
    return summary


def _file_order(file: Path, layout: str) -> dict[str, list[str]]:
    """User -> items straight from the text file, independently of the readers."""
    sequences: dict[str, list[str]] = {}
    for line in file.read_text(encoding="utf-8").splitlines():
        user, *items = line.split()
        if layout == "s3rec":
            sequences[user] = items
        else:
            sequences.setdefault(user, []).extend(items)
    return sequences


@pytest.mark.parametrize(
    ("format_name", "path", "users", "items", "interactions"),
    [
        ("s3rec", "amazon-s3rec/Beauty.txt", 22_363, 12_101, 198_502),
        ("s3rec", "amazon-s3rec/Sports_and_Outdoors.txt", 35_598, 18_357, 296_337),
        ("sasrec", "amazon-video", 31_013, 23_715, 287_107),
        # 34,101 train + 8,442 valid + 8,442 test rows = 50,985 targets, plus each user's
        # first item, which no row predicts: 50,985 + 8,442 = 59,427 interactions.
        ("unisrec", "amazon-scientific", 8_442, 4_385, 59_427),
    ],
)
def test_sequence_dataset_counts_and_order(
    shared_datasets: Path,
    format_name: str,
    path: str,
    users: int,
    items: int,
    interactions: int,
) -> None:
    dataset = read_dataset(format_name, shared_datasets / path)
    products = [p.id for p in dataset.products]
    summary = _summarize(dataset.events)
    sequences = read_sequences(format_name, shared_datasets / path)

    assert len(products) == len(set(products)) == items
    assert summary.events == summary.distinct_ids == interactions
    assert set(summary.kinds) == {"purchase"}
    assert len(summary.sequences) == len(sequences) == users
    assert summary.strictly_increasing
    assert list(summary.sequences.items()) == list(sequences.items())
    assert {i for seq in sequences.values() for i in seq} == set(products)
    file = shared_datasets / path
    if format_name != "unisrec":
        file = file if file.is_file() else next(file.glob("*.txt"))
        assert list(sequences.items()) == list(_file_order(file, format_name).items())


def test_scientific_sequences_agree_with_every_split(shared_datasets: Path) -> None:
    """The rebuilt sequence ends in the valid and test targets, after the test history."""
    folder = shared_datasets / "amazon-scientific"
    sequences = read_sequences("unisrec", folder)
    items = _index(folder / "Scientific.item2index")
    users = _index(folder / "Scientific.user2index")
    truncated = 0
    for split, offset in (("test", 1), ("valid", 2)):
        lines = (folder / f"Scientific.{split}.inter").read_text(encoding="utf-8").splitlines()
        for line in lines[1:]:
            user, history, target = line.split("\t")
            sequence = sequences[users[user]]
            assert sequence[-offset] == items[target]
            expected = [items[i] for i in history.split()]
            assert sequence[: len(sequence) - offset][-len(expected) :] == expected
            truncated += split == "test" and len(expected) < len(sequence) - 1
    assert truncated == 3  # users longer than 51 items: rebuilt beyond the test history


def _index(file: Path) -> dict[str, str]:
    pairs = (line.split("\t") for line in file.read_text(encoding="utf-8").splitlines())
    return {index: original for original, index in pairs}


def test_scientific_products_have_text(shared_datasets: Path) -> None:
    products = {
        p.id: p for p in read_dataset("unisrec", shared_datasets / "amazon-scientific").products
    }
    sander = products["B0000223SI"]
    assert sander.title == (
        "PORTER-CABLE 740000801 4 1/2-Inch x 10yd 80 Grit Adhesive-Backed Sanding Roll"
    )
    assert sander.category == (
        "Industrial & Scientific",
        "Abrasive & Finishing Products Manual Sanding Products Sanding Rolls",
    )
    assert sander.brand == "PORTER-CABLE"
    # 134 texts have an empty category part (". . "), 12 an empty brand
    assert sum(not p.category for p in products.values()) == 134
    assert sum(p.brand is None for p in products.values()) == 12


def test_diginetica_samples(shared_datasets: Path) -> None:
    samples = shared_datasets / "event-samples"
    srgnn = read_dataset("diginetica", samples / "srgnn_diginetica_sample")
    summary = _summarize(srgnn.events)
    assert summary.events == summary.distinct_ids == 12_391
    assert sum(1 for _ in srgnn.products) == 7_139
    # 2,986 sessions; session 1691 names two shoppers (17143 and 809), so 2,988 users
    assert len(summary.sequences) == 2_988
    assert summary.non_decreasing

    # the torch-rechub sample holds the first 500 of the same rows: the same event ids
    torch_rechub = read_dataset("diginetica", samples / "torch_rechub_samples")
    small_ids = {e.event_id for e in torch_rechub.events}
    assert len(small_ids) == 500
    assert small_ids <= {e.event_id for e in srgnn.events}
    assert sum(1 for _ in torch_rechub.products) == 398


def test_yoochoose_sample(shared_datasets: Path) -> None:
    dataset = read_dataset("yoochoose", shared_datasets / "event-samples" / "torch_rechub_samples")
    summary = _summarize(dataset.events)
    assert (summary.events, summary.distinct_ids, len(summary.sequences)) == (500, 500, 125)
    assert summary.kinds == Counter(click=500)
    assert summary.non_decreasing
    assert sum(1 for _ in dataset.products) == 314


def test_aliccp_samples(shared_datasets: Path) -> None:
    folder = shared_datasets / "event-samples"
    summary = _summarize(read_dataset("aliccp", folder).events)
    assert summary.kinds == Counter(impression=200, click=12, purchase=3)
    assert summary.events == summary.distinct_ids
    assert summary.strictly_increasing
    assert sum(1 for _ in read_dataset("aliccp", folder).products) == 120

    sample = load_aliccp(folder)
    assert sample.features.shape == (200, 31)
    assert sample.rows_per_source == (100, 50, 50)
    assert (int(sample.click.sum()), int(sample.purchase.sum())) == (12, 3)
    assert len(sample.dense_fields) == 8


def test_reading_twice_gives_the_same_ids(shared_datasets: Path) -> None:
    path = shared_datasets / "amazon-scientific"
    first = [e.event_id for e in read_dataset("unisrec", path).events]
    assert first == [e.event_id for e in read_dataset("unisrec", path).events]
