"""The public API: determinism, sizes, funnel rates and the files write_shop produces."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import ConfigError
from shopsense.synth import SampleShop, ShopConfig, ShopFiles, generate_shop

EVENT_COLUMNS = [
    "event_id", "user_id", "session_id", "kind", "item_id", "query", "request_id",
    "position", "quantity", "price", "timestamp",
]  # fmt: skip
ITEM_INTERACTIONS = {EventKind.CLICK, EventKind.VIEW, EventKind.ADD_TO_CART, EventKind.PURCHASE}


def test_same_seed_gives_the_same_shop(small_config: ShopConfig, small_shop: SampleShop) -> None:
    again = generate_shop(small_config)
    assert again.products == small_shop.products
    assert again.events == small_shop.events
    np.testing.assert_array_equal(again.truth.user_taste, small_shop.truth.user_taste)
    np.testing.assert_array_equal(again.truth.item_latent, small_shop.truth.item_latent)


def test_another_seed_gives_another_shop(small_shop: SampleShop) -> None:
    other = generate_shop(ShopConfig(n_products=200, n_users=50, seed=12))
    assert [p.title for p in other.products] != [p.title for p in small_shop.products]
    assert len(other.events) != len(small_shop.events) or other.events != small_shop.events


def test_small_shop_sizes_and_ids(small_shop: SampleShop) -> None:
    assert len(small_shop.products) == 200
    assert small_shop.products[0].id == "P00001"
    assert small_shop.products[-1].id == "P00200"
    assert small_shop.truth.user_ids[0] == "U0001"
    assert len(small_shop.truth.user_ids) == 50
    assert {e.user_id for e in small_shop.events} <= set(small_shop.truth.user_ids)
    assert len({e.event_id for e in small_shop.events}) == len(small_shop.events)
    assert 1_000 < len(small_shop.events) < 10_000


def _funnel_stats(shop: SampleShop) -> dict[str, float]:
    kinds = Counter(e.kind for e in shop.events)
    sessions = {e.session_id for e in shop.events}
    buying = {e.session_id for e in shop.events if e.kind is EventKind.PURCHASE}
    per_user = Counter(e.user_id for e in shop.events if e.kind in ITEM_INTERACTIONS)
    interactions = np.array([per_user[u] for u in shop.truth.user_ids])
    return {
        "ctr": kinds[EventKind.CLICK] / kinds[EventKind.IMPRESSION],
        "purchase_sessions": len(buying) / len(sessions),
        "users_with_history": float(np.mean(interactions >= 5)),
    }


def test_medium_shop_has_believable_funnel(medium_shop: SampleShop) -> None:
    stats = _funnel_stats(medium_shop)
    assert 0.03 <= stats["ctr"] <= 0.12
    assert 0.01 <= stats["purchase_sessions"] <= 0.10
    assert stats["users_with_history"] >= 0.6


@pytest.mark.slow
def test_default_shop_has_about_200k_events() -> None:
    shop = generate_shop()
    assert len(shop.products) == 5000
    assert len(shop.truth.user_ids) == 2000
    assert 180_000 <= len(shop.events) <= 230_000
    stats = _funnel_stats(shop)
    assert 0.03 <= stats["ctr"] <= 0.10
    assert 0.01 <= stats["purchase_sessions"] <= 0.08
    assert stats["users_with_history"] >= 0.7


def test_generated_events_validate(medium_shop: SampleShop) -> None:
    for event in random.Random(0).sample(medium_shop.events, 3000):
        assert Event.model_validate(event.model_dump()) == event


def test_generated_products_validate(medium_shop: SampleShop) -> None:
    for product in medium_shop.products:
        assert Product.model_validate(product.model_dump()) == product


def test_catalog_file_rows_are_products(
    small_shop: SampleShop, written_small_shop: ShopFiles
) -> None:
    lines = written_small_shop.catalog.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert set(rows[0]) == {
        "id", "title", "description", "category", "brand", "price", "currency", "in_stock",
        "attributes", "created_at",
    }  # fmt: skip
    assert isinstance(rows[0]["category"], str) and " > " in rows[0]["category"]
    assert [Product(**row) for row in rows] == small_shop.products


def test_events_file_rows_are_events(small_shop: SampleShop, written_small_shop: ShopFiles) -> None:
    table = pq.read_table(written_small_shop.events)
    assert table.column_names == EVENT_COLUMNS
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    rows = table.to_pylist()
    assert len(rows) == len(small_shop.events)
    for row, event in zip(rows, small_shop.events, strict=True):
        assert Event(**row) == event
    assert all(row["query"] is None for row in rows if row["kind"] != "search")


def test_truth_directory_is_written(written_small_shop: ShopFiles) -> None:
    assert (written_small_shop.truth / "truth.npz").is_file()
    assert (written_small_shop.truth / "truth.json").is_file()


@pytest.mark.parametrize(
    "config",
    [
        ShopConfig(n_products=0),
        ShopConfig(n_users=0),
        ShopConfig(end=datetime(2026, 11, 1)),
        ShopConfig(sessions_per_user=0.0),
    ],
)
def test_bad_config_is_refused(config: ShopConfig) -> None:
    with pytest.raises(ConfigError):
        generate_shop(config)
