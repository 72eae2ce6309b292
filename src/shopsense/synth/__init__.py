"""The built-in sample shop: a synthetic catalog, shoppers and event log with known truth.

Products are composed from a category vocabulary (:mod:`.vocabulary`, :mod:`.catalog`),
shoppers have hidden tastes (:mod:`.shoppers`), sessions are played with position-biased
clicks, a purchase funnel, complementary purchases and drifting popularity
(:mod:`.sessions`), and everything hidden is kept in a :class:`GroundTruth` (:mod:`.truth`)
so that simulators and tests can ask how a shopper would really have reacted.

Example::

    >>> from shopsense.synth import ShopConfig, generate_shop, write_shop
    >>> shop = generate_shop(ShopConfig(n_products=200, n_users=50))
    >>> files = write_shop(shop, Path("sample-shop"))            # doctest: +SKIP
    >>> files.events.name                                        # doctest: +SKIP
    'events.parquet'
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from shopsense.domain import CATEGORY_SEPARATOR, Event, Product
from shopsense.errors import ConfigError
from shopsense.synth.catalog import Catalog, build_catalog, epoch_us
from shopsense.synth.sessions import simulate_events
from shopsense.synth.shoppers import Shoppers, build_shoppers
from shopsense.synth.truth import BehaviourParams, GroundTruth, draw_popularity_drift
from shopsense.synth.vocabulary import COMPLEMENTS, DEPARTMENTS

__all__ = [
    "GroundTruth",
    "SampleShop",
    "ShopConfig",
    "ShopFiles",
    "generate_shop",
    "write_shop",
]

logger = logging.getLogger(__name__)

CATALOG_FILE = "catalog.jsonl"
EVENTS_FILE = "events.parquet"
TRUTH_DIR = "truth"

EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("kind", pa.string()),
        ("item_id", pa.string()),
        ("query", pa.string()),
        ("request_id", pa.string()),
        ("position", pa.int64()),
        ("quantity", pa.int64()),
        ("price", pa.float64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class ShopConfig:
    """Hyper-parameters of the sample shop. The defaults give about 200k events.

    ``end`` fixes the window (``days`` days ending there), so the same config always
    generates the same shop; ``sessions_per_user`` is the mean visits per shopper.
    """

    n_products: int = 5000
    n_users: int = 2000
    days: int = 60
    seed: int = 7
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    sessions_per_user: float = 4.5
    latent_dim: int = 16
    behaviour: BehaviourParams = field(default_factory=BehaviourParams)


@dataclass
class SampleShop:
    """A generated shop: the catalog, the event log (sorted by time) and the hidden truth."""

    products: list[Product]
    events: list[Event]
    truth: GroundTruth


@dataclass(frozen=True)
class ShopFiles:
    """Where :func:`write_shop` put the shop."""

    catalog: Path
    events: Path
    truth: Path


def generate_shop(config: ShopConfig = ShopConfig()) -> SampleShop:
    """Generate the sample shop described by ``config`` (deterministic per config).

    Example::

        >>> shop = generate_shop(ShopConfig(n_products=200, n_users=50, seed=1))
        >>> shop.products[0].id, shop.truth.user_ids[0]
        ('P00001', 'U0001')
    """
    _check(config)
    began = time.perf_counter()
    catalog_rng, shopper_rng, drift_rng, session_rng = (
        np.random.default_rng(seed) for seed in np.random.SeedSequence(config.seed).spawn(4)
    )
    start = config.end - timedelta(days=config.days)
    catalog = build_catalog(
        config.n_products,
        start=start,
        end=config.end,
        rng=catalog_rng,
        latent_dim=config.latent_dim,
    )
    department_weight = np.array([d.popularity for d in DEPARTMENTS])
    leaf_size = np.bincount(catalog.item_leaf, minlength=len(catalog.leaves)).astype(np.float64)
    shoppers = build_shoppers(
        config.n_users,
        leaf_department=catalog.leaf_department,
        leaf_weight=np.sqrt(leaf_size + 1.0) * department_weight[catalog.leaf_department],
        brand_department=catalog.brand_department,
        department_weight=department_weight,
        rng=shopper_rng,
        latent_dim=config.latent_dim,
    )
    created_day = (catalog.created_us - epoch_us(start)) / 86_400e6
    drift = draw_popularity_drift(created_day, float(config.days), drift_rng)
    truth = _ground_truth(catalog, shoppers, drift, start, config)
    events = simulate_events(
        truth, catalog, sessions_per_user=config.sessions_per_user, rng=session_rng
    )
    logger.info(
        "generated a sample shop: %d products, %d users, %d events in %.1f s",
        len(catalog.products),
        len(shoppers.user_ids),
        len(events),
        time.perf_counter() - began,
    )
    return SampleShop(products=catalog.products, events=events, truth=truth)


def write_shop(shop: SampleShop, directory: Path) -> ShopFiles:
    """Write ``catalog.jsonl``, ``events.parquet`` and ``truth/`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ShopFiles(
        catalog=directory / CATALOG_FILE,
        events=directory / EVENTS_FILE,
        truth=directory / TRUTH_DIR,
    )
    with files.catalog.open("w", encoding="utf-8") as out:
        for product in shop.products:
            out.write(json.dumps(_catalog_row(product), ensure_ascii=False) + "\n")
    pq.write_table(_events_table(shop.events), files.events)
    shop.truth.save(files.truth)
    logger.info("wrote the sample shop to %s", directory)
    return files


def _check(config: ShopConfig) -> None:
    if config.n_products < 1 or config.n_users < 1 or config.days < 1:
        raise ConfigError(
            f"the sample shop needs at least one product, user and day; got n_products="
            f"{config.n_products}, n_users={config.n_users}, days={config.days}"
        )
    if config.end.tzinfo is None:
        raise ConfigError(
            f"ShopConfig.end must be timezone-aware, got {config.end!r}; "
            "pass e.g. datetime(2026, 11, 1, tzinfo=UTC)"
        )
    if config.sessions_per_user <= 0:
        raise ConfigError(f"sessions_per_user must be positive, got {config.sessions_per_user}")


def _ground_truth(
    catalog: Catalog,
    shoppers: Shoppers,
    drift: dict[str, npt.NDArray[np.float64]],
    start: datetime,
    config: ShopConfig,
) -> GroundTruth:
    return GroundTruth(
        start=start,
        end=config.end,
        user_ids=shoppers.user_ids,
        item_ids=[p.id for p in catalog.products],
        category_paths=[leaf.path for leaf in catalog.leaves],
        brands=list(catalog.brands),
        user_category_pref=shoppers.category_pref,
        user_brand_affinity=shoppers.brand_affinity,
        user_taste=shoppers.taste,
        user_price_level=shoppers.price_level,
        user_price_sensitivity=shoppers.price_sensitivity,
        user_activity=shoppers.activity,
        user_search_rate=shoppers.search_rate,
        item_category=catalog.item_leaf,
        item_brand=catalog.item_brand,
        item_latent=catalog.latent,
        item_quality=catalog.quality,
        item_price_z=catalog.price_z,
        item_in_stock=catalog.in_stock,
        item_created_us=catalog.created_us,
        complements={leaf: list(partners) for leaf, partners in COMPLEMENTS.items()},
        params=config.behaviour,
        **drift,
    )


def _catalog_row(product: Product) -> dict[str, object]:
    return {
        "id": product.id,
        "title": product.title,
        "description": product.description,
        "category": CATEGORY_SEPARATOR.join(product.category),
        "brand": product.brand,
        "price": product.price,
        "currency": product.currency,
        "in_stock": product.in_stock,
        "attributes": product.attributes,
        "created_at": product.created_at.isoformat() if product.created_at else None,
    }


def _events_table(events: list[Event]) -> pa.Table:
    columns: dict[str, list[object]] = {name: [] for name in EVENTS_SCHEMA.names}
    for event in events:
        columns["event_id"].append(event.event_id)
        columns["user_id"].append(event.user_id)
        columns["session_id"].append(event.session_id)
        columns["kind"].append(event.kind.value)
        columns["item_id"].append(event.item_id)
        columns["query"].append(event.query)
        columns["request_id"].append(event.request_id)
        columns["position"].append(event.position)
        columns["quantity"].append(event.quantity)
        columns["price"].append(event.price)
        columns["timestamp"].append(event.timestamp)
    return pa.Table.from_pydict(columns, schema=EVENTS_SCHEMA)
