"""Datasets from plain event dicts or tables, validated like any other input."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shopsense.dataset import Dataset
from shopsense.errors import ValidationError


def test_from_events_keeps_every_field() -> None:
    data = Dataset.from_events(
        [
            {"user_id": "u1", "kind": "impression", "item_id": "p2", "request_id": "r1",
             "position": 3, "propensity": 0.25, "timestamp": "2026-01-01T00:00:00Z"},
            {"user_id": "u1", "kind": "click", "item_id": "p2", "request_id": "r1",
             "timestamp": 60},
        ]
    )  # fmt: skip
    assert len(data) == 2
    assert data.events.propensity[0] == 0.25
    assert data.events.position.tolist() == [3, -1]
    assert data.item_ids() == ["p2"]
    assert data.events.event_id.tolist() == ["e0", "e1"]


def test_an_invalid_event_names_its_row_and_field() -> None:
    with pytest.raises(ValidationError, match=r"row 2, field 'propensity'"):
        Dataset.from_events(
            [
                {"user_id": "u1", "kind": "view", "item_id": "p1", "timestamp": 1},
                {"user_id": "u1", "kind": "impression", "item_id": "p1", "timestamp": 2,
                 "propensity": 1.5},
            ]
        )  # fmt: skip
    with pytest.raises(ValidationError, match=r"row 1, field 'title'"):
        Dataset.from_events([], products=[{"id": "p1"}])


def test_from_a_table_with_missing_values() -> None:
    table = pa.table(
        {
            "user_id": ["u1", "u1"],
            "kind": ["view", "search"],
            "item_id": ["p1", None],
            "query": [None, "red mug"],
            "timestamp": [1.0, 2.0],
        }
    )
    data = Dataset.from_frame(table, products=[{"id": "p1", "title": "Mug"}])
    assert data.events.query.tolist() == [None, "red mug"]
    assert data.item_ids() == ["p1"]
