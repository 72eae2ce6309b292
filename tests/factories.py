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


def small_catalog() -> list[Product]:
    """Eight hand-written products for the index and search tests (shoes, socks, sofa, ...)."""
    rows = [
        (
            "P1",
            "Trail running shoe, waterproof",
            "Grippy outsole.",
            "Sports > Running > Shoes",
            "Stormline",
            79.0,
            True,
            {"color": "blue", "size": "42"},
        ),
        (
            "P2",
            "Road running shoe",
            "Light and fast.",
            "Sports > Running > Shoes",
            "Peakform",
            99.0,
            True,
            {"color": "red", "size": "43"},
        ),
        (
            "P3",
            "Running socks 3-pack",
            "Socks for running shoes.",
            "Sports > Running > Socks",
            "Peakform",
            12.0,
            True,
            {"color": "white"},
        ),
        (
            "P4",
            "Grey 3 seater sofa",
            "A comfortable sofa.",
            "Home > Living > Sofas",
            "Oakhaven",
            799.0,
            True,
            {"color": "grey"},
        ),
        (
            "P5",
            "Blue ceramic mug",
            "Holds coffee.",
            "Home > Kitchen > Mugs",
            "Oakhaven",
            9.0,
            False,
            {"color": "blue"},
        ),
        (
            "P6",
            "iPhone case, leather",
            "Slim phone case.",
            "Electronics > Phones > Cases",
            "Nexora",
            25.0,
            True,
            {"color": "black"},
        ),
        (
            "P7",
            "Waterproof rain jacket",
            "Keeps you dry on a run.",
            "Fashion > Jackets",
            "Stormline",
            120.0,
            True,
            {"color": "yellow", "size": "M"},
        ),
        (
            "P8",
            "Leather wallet",
            "A wallet, not a shoe.",
            "Fashion > Accessories",
            "Nexora",
            45.0,
            True,
            {"color": "brown"},
        ),
    ]
    return [
        Product(
            id=i,
            title=t,
            description=d,
            category=c,
            brand=b,
            price=p,
            in_stock=s,
            attributes=a,
            created_at=f"2026-01-{n + 1:02d}T00:00:00Z",
        )
        for n, (i, t, d, c, b, p, s, a) in enumerate(rows)
    ]


def copy_bundle(artifacts_dir: Path, source: str, new_id: str, **manifest: object) -> Path:
    """A copy of bundle ``source`` under ``new_id`` (ids sort by age: an id that sorts
    first is older), its manifest updated with ``manifest`` (e.g. ``published=False``)."""
    import json
    import shutil

    bundles = artifacts_dir / "bundles"
    target = bundles / new_id
    shutil.copytree(bundles / source, target)
    path = target / "manifest.json"
    data = json.loads(path.read_text())
    data.update({"id": new_id, **manifest})
    path.write_text(json.dumps(data))
    return target
