"""What is known about the products: the catalog as arrays, the event log, item statistics.

- :class:`ItemTable`: the catalog as arrays (category leaf, brand, price position, stock,
  launch date, title words), extendable with products added after training;
- :class:`EventArrays`: an event log as parallel arrays (user, item, kind, time, session,
  request, position, propensity);
- :class:`ItemStats`: per-product statistics of a log (interactions, recent interactions,
  shrunk click-through, add-to-cart and purchase rates, what follows a purchase).

Example::

    >>> table = ItemTable.from_products(products)                          # doctest: +SKIP
    >>> stats = ItemStats.from_log(log, table)                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.domain import CATEGORY_SEPARATOR, DEFAULT_EVENT_WEIGHTS, EventKind, Product
from shopsense.ranking.affinity import click_lift, grown
from shopsense.store.base import to_micros

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
US_PER_DAY = 86_400 * 1_000_000
_TOKEN = re.compile(r"[a-z0-9]+")
RECENT_DAYS = 7.0
#: Pseudo-counts that pull an item's (or shopper's) rates towards the shop's overall rate.
RATE_PRIOR = 20.0
EVENT_WEIGHT = {k.value: w for k, w in DEFAULT_EVENT_WEIGHTS.items()}


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def logit(p: npt.NDArray[np.float64]) -> FloatArray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    result: FloatArray = np.log(p / (1 - p)).astype(np.float32)
    return result


@dataclass(frozen=True)
class ItemTable:
    """Catalog arrays, each ``(n_items,)`` in ``item_ids`` order: ``leaf`` / ``brand``
    category and brand codes (names in ``leaf_names`` / ``brand_names``), ``price``,
    ``price_z`` (log price standardised within the leaf), ``in_stock``, ``created_us``
    (launch, epoch µs; 0 if unknown), title ``words``. Without a catalog
    (:meth:`from_ids`) every item is in one unnamed leaf, in stock, with no price."""

    item_ids: list[str]
    leaf: IntArray
    brand: IntArray
    price: FloatArray
    price_z: FloatArray
    in_stock: npt.NDArray[np.bool_]
    created_us: IntArray
    words: list[set[str]]
    leaf_names: list[str]
    brand_names: list[str]

    @property
    def n_leaves(self) -> int:
        return max(len(self.leaf_names), 1)

    @property
    def n_brands(self) -> int:
        return max(len(self.brand_names), 1)

    @cached_property
    def index(self) -> dict[str, int]:
        """Item id -> row."""
        return {item: i for i, item in enumerate(self.item_ids)}

    def indices(self, item_ids: Sequence[str | None]) -> IntArray:
        """Rows of ``item_ids`` (-1 for ids outside the table)."""
        index = self.index
        return np.array([index.get(i, -1) if i is not None else -1 for i in item_ids], np.int64)

    @classmethod
    def from_products(cls, products: Sequence[Product]) -> ItemTable:
        leaves: dict[str, int] = {}
        brands: dict[str, int] = {}
        leaf = np.array(
            [leaves.setdefault(CATEGORY_SEPARATOR.join(p.category), len(leaves)) for p in products],
            np.int64,
        )
        brand = np.array(
            [brands.setdefault(p.brand or "", len(brands)) for p in products], np.int64
        )
        price = np.array(
            [p.price if p.price and p.price > 0 else np.nan for p in products], np.float64
        )
        log_price = np.log(price)
        price_z = np.zeros(len(products))
        for code in range(len(leaves)):
            rows = np.flatnonzero((leaf == code) & np.isfinite(log_price))
            if rows.size:
                spread = log_price[rows].std() or 1.0
                price_z[rows] = (log_price[rows] - log_price[rows].mean()) / spread
        created = [to_micros(p.created_at) if p.created_at else 0 for p in products]
        return cls(
            item_ids=[p.id for p in products],
            leaf=leaf,
            brand=brand,
            price=np.nan_to_num(price, nan=0.0).astype(np.float32),
            price_z=price_z.astype(np.float32),
            in_stock=np.array([p.in_stock is not False for p in products], dtype=bool),
            created_us=np.array(created, dtype=np.int64),
            words=[tokens(p.title) for p in products],
            leaf_names=list(leaves),
            brand_names=list(brands),
        )

    @classmethod
    def from_ids(cls, item_ids: Sequence[str]) -> ItemTable:
        """A table for items known only by id (no catalog)."""
        n = len(item_ids)
        return cls(
            item_ids=list(item_ids),
            leaf=np.zeros(n, np.int64),
            brand=np.zeros(n, np.int64),
            price=np.zeros(n, np.float32),
            price_z=np.zeros(n, np.float32),
            in_stock=np.ones(n, bool),
            created_us=np.zeros(n, np.int64),
            words=[set() for _ in range(n)],
            leaf_names=[""],
            brand_names=[""],
        )

    def __len__(self) -> int:
        return len(self.item_ids)

    def with_products(self, products: Sequence[Product]) -> ItemTable:
        """This table with ``products`` that are new appended (in order; known ids keep
        their row and fields). A new product's price position is taken within its leaf's
        known prices; a new leaf or brand gets a new code."""
        known = self.index
        fresh = list({p.id: p for p in products if p.id not in known}.values())
        if not fresh:
            return self
        leaf_names, brand_names = list(self.leaf_names), list(self.brand_names)
        leaves = {name: i for i, name in enumerate(leaf_names)}
        brands = {name: i for i, name in enumerate(brand_names)}
        leaf = [leaves.setdefault(CATEGORY_SEPARATOR.join(p.category), len(leaves)) for p in fresh]
        brand = [brands.setdefault(p.brand or "", len(brands)) for p in fresh]
        price = np.array([p.price if p.price and p.price > 0 else 0.0 for p in fresh], np.float32)
        price_z = np.zeros(len(fresh), np.float32)
        logs = np.log(np.where(self.price > 0, self.price, np.nan))
        for k, (code, value) in enumerate(zip(leaf, price, strict=True)):
            known_logs = logs[(self.leaf == code) & np.isfinite(logs)]
            if value > 0 and known_logs.size > 1:
                price_z[k] = (np.log(value) - known_logs.mean()) / (known_logs.std() or 1.0)
        created = [to_micros(p.created_at) if p.created_at else 0 for p in fresh]
        return ItemTable(
            item_ids=[*self.item_ids, *(p.id for p in fresh)],
            leaf=np.concatenate([self.leaf, np.asarray(leaf, np.int64)]),
            brand=np.concatenate([self.brand, np.asarray(brand, np.int64)]),
            price=np.concatenate([self.price, price]),
            price_z=np.concatenate([self.price_z, price_z]),
            in_stock=np.concatenate([self.in_stock, [p.in_stock is not False for p in fresh]]),
            created_us=np.concatenate([self.created_us, np.asarray(created, np.int64)]),
            words=[*self.words, *(tokens(p.title) for p in fresh)],
            leaf_names=list(leaves),
            brand_names=list(brands),
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "items.npz",
            leaf=self.leaf,
            brand=self.brand,
            price=self.price,
            price_z=self.price_z,
            in_stock=self.in_stock,
            created_us=self.created_us,
        )
        meta = {
            "item_ids": self.item_ids,
            "words": [sorted(w) for w in self.words],
            "leaf_names": self.leaf_names,
            "brand_names": self.brand_names,
        }
        (directory / "items.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> ItemTable:
        meta = json.loads((directory / "items.json").read_text())
        with np.load(directory / "items.npz", allow_pickle=False) as arrays:
            columns = {k: arrays[k] for k in arrays.files}
        return cls(
            item_ids=list(meta["item_ids"]),
            words=[set(w) for w in meta["words"]],
            leaf_names=list(meta["leaf_names"]),
            brand_names=list(meta["brand_names"]),
            **columns,
        )


@dataclass(frozen=True)
class EventArrays:
    """A time-ordered event log as index arrays, each ``(n,)``: ``user`` (any int code),
    ``item`` (index into the item table, -1 for none), ``kind`` (an :class:`EventKind`
    value), ``time`` (epoch µs), ``session`` (int code), ``request`` (int code, -1 for
    none), ``position`` (-1 for none), ``propensity`` (NaN where not logged)."""

    user: IntArray
    item: IntArray
    kind: npt.NDArray[np.str_]
    time: IntArray
    session: IntArray
    request: IntArray
    position: IntArray
    propensity: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.user.size)

    def select(self, keep: npt.NDArray[np.bool_]) -> EventArrays:
        """The rows where ``keep`` ``(n,)`` is true."""
        return EventArrays(*(getattr(self, f.name)[keep] for f in fields(EventArrays)))


def _rate(
    hits: npt.NDArray[np.float64], trials: npt.NDArray[np.float64], base: float
) -> FloatArray:
    """Logit of ``hits / trials`` shrunk towards ``base`` with :data:`RATE_PRIOR`
    pseudo-counts, minus the logit of ``base`` (0 = an ordinary item)."""
    if hits.sum() == 0:  # the log has none: it says nothing about any item
        return np.zeros(hits.size, np.float32)
    shrunk = logit((hits + RATE_PRIOR * base) / (trials + RATE_PRIOR))
    result: FloatArray = shrunk - logit(np.array([base]))[0]
    return result


def _log_share(counts: npt.NDArray[np.int64]) -> FloatArray:
    """``log((count + 1) / (mean count + 1))``: 0 for an average item, whatever the log size."""
    result: FloatArray = np.log((counts + 1.0) / (counts.mean() + 1.0)).astype(np.float32)
    return result


#: The event kinds :class:`ItemStats` counts per item.
_COUNTED = (EventKind.IMPRESSION, EventKind.CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE)


@dataclass(frozen=True)
class ItemStats:
    """What the event log says about each item, each ``(n_items,)``, in units that do not
    grow with the size of the log (the ranker trains on statistics of part of the log and
    serves with those of all of it): the log-share of the shoppers who engaged with it
    (``log_users``) and of last week's engagements (``log_recent``); its smoothed
    click-through rate of impressions (``ctr_logit``), add-to-cart per click
    (``cart_logit``) and purchases per click (``cvr_logit``), each as a logit lift over the
    shop's overall rate. ``after_purchase`` ``(n_leaves, n_leaves)`` is the log-share of
    clicks in leaf ``b`` within the visit after a purchase in leaf ``a``; ``base_ctr`` the
    shop's click-through rate; ``affinity`` the ``(n_items, n_items)`` sparse click lift of
    a product shown to shoppers who engaged with another (:mod:`shopsense.ranking.affinity`)."""

    log_users: FloatArray
    log_recent: FloatArray
    ctr_logit: FloatArray
    cart_logit: FloatArray
    cvr_logit: FloatArray
    after_purchase: FloatArray
    base_ctr: float
    now_us: int
    affinity: sp.csr_matrix

    @classmethod
    def from_log(cls, log: EventArrays, table: ItemTable, now_us: int | None = None) -> ItemStats:
        n = len(table)
        now = int(log.time.max()) if now_us is None and log.time.size else int(now_us or 0)
        has = log.item >= 0
        item, kind, time = log.item[has], log.kind[has], log.time[has]
        engaged = np.isin(kind, [k for k, w in EVENT_WEIGHT.items() if w > 0])
        pairs = np.unique(np.stack([log.user[has][engaged], item[engaged]]), axis=1)
        users = np.bincount(pairs[1], minlength=n)
        recent = np.bincount(item[engaged & (time >= now - RECENT_DAYS * US_PER_DAY)], minlength=n)

        def count(which: EventKind) -> npt.NDArray[np.float64]:
            return np.bincount(item[kind == which.value], minlength=n).astype(np.float64)

        return cls.from_counts(
            users,
            recent,
            {k: count(k) for k in _COUNTED},
            now,
            after_purchase=_after_purchase(log, table),
            affinity=click_lift(log.user, log.item, log.kind, log.request, n),
        )

    @classmethod
    def from_counts(
        cls,
        users: npt.NDArray[np.integer[Any]] | npt.NDArray[np.float64],
        recent: npt.NDArray[np.integer[Any]] | npt.NDArray[np.float64],
        counts: Mapping[EventKind, npt.NDArray[np.float64]],
        now_us: int,
        after_purchase: FloatArray | None = None,
        affinity: sp.csr_matrix | None = None,
        n_leaves: int = 0,
    ) -> ItemStats:
        """From per-item counts computed elsewhere (a Spark job): distinct engaged shoppers,
        last week's engagements, and events of each kind in :data:`_COUNTED`. Without
        ``after_purchase`` / ``affinity`` those features are neutral (zeros)."""
        n = len(users)
        shown, clicks = counts[EventKind.IMPRESSION], counts[EventKind.CLICK]
        carts, bought = counts[EventKind.ADD_TO_CART], counts[EventKind.PURCHASE]
        base_ctr = (clicks.sum() + 1.0) / (shown.sum() + 2.0)
        base_cart = (carts.sum() + 1.0) / (clicks.sum() + 2.0)
        base_cvr = (bought.sum() + 1.0) / (clicks.sum() + 2.0)
        return cls(
            log_users=_log_share(np.asarray(users)),
            log_recent=_log_share(np.asarray(recent)),
            ctr_logit=_rate(clicks, shown, base_ctr),
            cart_logit=_rate(carts, clicks, base_cart),
            cvr_logit=_rate(bought, clicks, base_cvr),
            after_purchase=(
                np.zeros((n_leaves, n_leaves), np.float32)
                if after_purchase is None
                else after_purchase
            ),
            base_ctr=float(base_ctr),
            now_us=now_us,
            affinity=sp.csr_matrix((n, n), dtype=np.float32) if affinity is None else affinity,
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "affinity"}
        lift = self.affinity.tocsr()
        arrays |= {
            "affinity_data": lift.data,
            "affinity_indices": lift.indices,
            "affinity_indptr": lift.indptr,
            "affinity_shape": np.array(lift.shape, np.int64),
        }
        np.savez(directory / "item_stats.npz", **arrays)

    @classmethod
    def load(cls, directory: Path) -> ItemStats:
        with np.load(directory / "item_stats.npz", allow_pickle=False) as arrays:
            values: dict[str, Any] = {k: arrays[k] for k in arrays.files}
        values["base_ctr"] = float(values["base_ctr"])
        values["now_us"] = int(values["now_us"])
        n = values["log_users"].size
        shape = tuple(int(v) for v in values.pop("affinity_shape", (n, n)))
        parts = [values.pop(f"affinity_{k}", None) for k in ("data", "indices", "indptr")]
        # bundles written before the affinity existed load with none (no evidence)
        values["affinity"] = (
            sp.csr_matrix(tuple(parts), shape=shape)
            if all(p is not None for p in parts)
            else sp.csr_matrix(shape, dtype=np.float32)
        )
        return cls(**values)

    def extended(self, n_items: int) -> ItemStats:
        """The same statistics for a table grown to ``n_items`` (new items: no events)."""
        extra = n_items - self.log_users.size
        if extra <= 0:
            return self

        def pad(values: FloatArray, fill: float) -> FloatArray:
            return np.concatenate([values, np.full(extra, fill, np.float32)])

        return ItemStats(
            pad(self.log_users, float(self.log_users.min(initial=0.0))),
            pad(self.log_recent, float(self.log_recent.min(initial=0.0))),
            pad(self.ctr_logit, 0.0),
            pad(self.cart_logit, 0.0),
            pad(self.cvr_logit, 0.0),
            self.after_purchase,
            self.base_ctr,
            self.now_us,
            grown(self.affinity, n_items),
        )


def _after_purchase(log: EventArrays, table: ItemTable) -> FloatArray:
    """``(n_leaves, n_leaves)`` log-share of clicks per leaf following a purchase in a leaf
    during the same session."""
    counts = np.zeros((table.n_leaves, table.n_leaves))
    last_leaf: dict[int, int] = {}
    bought = np.flatnonzero((log.kind == EventKind.PURCHASE.value) | (log.kind == "click"))
    for row in bought:
        item = int(log.item[row])
        if item < 0:
            continue
        session = int(log.session[row])
        if log.kind[row] == EventKind.PURCHASE.value:
            last_leaf[session] = int(table.leaf[item])
        elif session in last_leaf:
            counts[last_leaf[session], table.leaf[item]] += 1.0
    share = (counts + 0.1) / (counts.sum(axis=1, keepdims=True) + 0.1 * table.n_leaves)
    result: FloatArray = np.log(share * table.n_leaves).astype(np.float32)
    return result
