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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from shopsense.domain import CATEGORY_SEPARATOR, Event, Product
from shopsense.errors import ConfigError
from shopsense.synth.catalog import Catalog, build_catalog, epoch_us
from shopsense.synth.sessions import KIND_VALUES, EventStream, Row, simulate_events
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
    began = time.perf_counter()
    catalog, truth, session_rng = _world(config)
    events = simulate_events(
        truth, catalog, sessions_per_user=config.sessions_per_user, rng=session_rng
    )
    logger.info(
        "generated a sample shop: %d products, %d users, %d events in %.1f s",
        len(catalog.products),
        len(truth.user_ids),
        len(events),
        time.perf_counter() - began,
    )
    return SampleShop(products=catalog.products, events=events, truth=truth)


def generate_to(
    config: ShopConfig, directory: Path, chunk_rows: int = 200_000
) -> tuple[ShopFiles, int, int]:
    """Generate the shop described by ``config`` straight into ``directory`` (the files of
    :func:`write_shop`), writing events as they are simulated: memory stays bounded by the
    catalog, the shoppers and ``chunk_rows`` events, whatever the size. The same shop as
    :func:`generate_shop` (event and request ids alike below ten million of each; above,
    their numbers grow a digit instead of all being padded to the final width). Returns the
    files, the products and the events written."""
    catalog, truth, session_rng = _world(config)
    directory.mkdir(parents=True, exist_ok=True)
    files = ShopFiles(directory / CATALOG_FILE, directory / EVENTS_FILE, directory / TRUTH_DIR)
    _write_catalog(catalog.products, files.catalog)
    truth.save(files.truth)
    stream = EventStream(
        truth, catalog, sessions_per_user=config.sessions_per_user, rng=session_rng
    )
    session_width = max(6, len(str(stream.n_sessions)))
    written = 0
    temporary = files.events.with_name(files.events.name + ".writing")
    with pq.ParquetWriter(temporary, EVENTS_SCHEMA) as writer:
        for chunk in stream.chunks(chunk_rows):
            writer.write_table(_rows_table(chunk, written, truth, session_width))
            written += len(chunk)
    temporary.replace(files.events)
    logger.info("wrote a sample shop of %d events to %s", written, directory)
    return files, len(catalog.products), written


def _world(config: ShopConfig) -> tuple[Catalog, GroundTruth, np.random.Generator]:
    """The catalog, the shoppers' hidden truth and the random source of their sessions."""
    _check(config)
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
    return catalog, _ground_truth(catalog, shoppers, drift, start, config), session_rng


def write_shop(shop: SampleShop, directory: Path) -> ShopFiles:
    """Write ``catalog.jsonl``, ``events.parquet`` and ``truth/`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = ShopFiles(
        catalog=directory / CATALOG_FILE,
        events=directory / EVENTS_FILE,
        truth=directory / TRUTH_DIR,
    )
    _write_catalog(shop.products, files.catalog)
    pq.write_table(_events_table(shop.events), files.events)
    shop.truth.save(files.truth)
    logger.info("wrote the sample shop to %s", directory)
    return files


def _write_catalog(products: Sequence[Product], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for product in products:
            out.write(json.dumps(_catalog_row(product), ensure_ascii=False) + "\n")


def _rows_table(
    rows: Sequence[Row], first: int, truth: GroundTruth, session_width: int
) -> pa.Table:
    """Simulated rows (sorted by time) as events numbered from ``first + 1``."""
    t, kind, user, session, item, query, request, position, quantity, price = (
        list(column) for column in zip(*rows, strict=True)
    )
    item_ids, user_ids = truth.item_ids, truth.user_ids
    columns: dict[str, list[Any]] = {
        "event_id": [f"E{first + n + 1:07d}" for n in range(len(rows))],
        "user_id": [user_ids[u] for u in user],
        "session_id": [f"S{s + 1:0{session_width}d}" for s in session],
        "kind": [KIND_VALUES[k] for k in kind],
        "item_id": [item_ids[i] if i >= 0 else None for i in item],
        "query": query,
        "request_id": [f"R{r:07d}" if r >= 0 else None for r in request],
        "position": [p if p >= 0 else None for p in position],
        "quantity": [q if q >= 0 else None for q in quantity],
        "price": [p if p == p else None for p in price],
        "timestamp": pa.array(t, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
    }
    return pa.Table.from_pydict(columns, schema=EVENTS_SCHEMA)


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
