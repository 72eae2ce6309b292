"""Small products and events for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopsense.domain import Event, Product

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def product(i: int, **extra: object) -> Product:
    fields: dict[str, object] = {
        "id": f"P{i}",
        "title": f"Product {i}",
        "category": "Home > Kitchen",
        "price": 10.0 + i,
    }
    fields.update(extra)
    return Product.model_validate(fields)


def event(i: int, user: str = "U1", item: str = "P1", kind: str = "view", **extra: object) -> Event:
    fields: dict[str, object] = {
        "event_id": f"E{i}",
        "user_id": user,
        "kind": kind,
        "item_id": item,
        "timestamp": T0 + timedelta(minutes=i),
    }
    fields.update(extra)
    return Event.model_validate(fields)
