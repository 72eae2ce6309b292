"""Ranking features: what is known about an item, a shopper and the pair, as one row.

Everything here is observable by a shop: catalog fields (category, brand, price, stock,
launch date, title), statistics of the logged events (interactions, recent interactions,
click-through and conversion rates, which categories get clicked after a purchase in
another), the shopper's own history, and the scores of the retrieval models. Nothing reads
the sample shop's hidden truth.

Retrieval scores enter as rank-robust transforms (``log1p`` of the item's rank among all
items and the score's z-value over all items), so a model refitted on more data feeds the
ranker the same kind of numbers it was trained on.

Example::

    >>> table = ItemTable.from_products(products)                          # doctest: +SKIP
    >>> stats = ItemStats.from_log(log, table)                             # doctest: +SKIP
    >>> builder = FeatureBuilder(table, stats, sources=("als", "sasrec"))  # doctest: +SKIP
    >>> rows = builder.build(state, candidates, {"als": s1, "sasrec": s2}, now_us)
    >>> rows.shape                                     # (len(candidates), builder.n_features)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind, Product
from shopsense.store.base import to_micros

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
_US_PER_DAY = 86_400 * 1_000_000
_TOKEN = re.compile(r"[a-z0-9]+")
#: A purchase this recent (same visit) puts the shopper in "complements" context.
COMPLEMENT_WINDOW_US = 2 * 3600 * 1_000_000
RECENT_DAYS = 7.0


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


@dataclass(frozen=True)
class ItemTable:
    """Catalog arrays, each ``(n_items,)`` in ``item_ids`` order: ``leaf`` / ``brand``
    category and brand codes, ``price``, ``price_z`` (log price standardised within the
    leaf), ``in_stock``, ``created_us`` (launch, epoch µs; 0 if unknown), title ``words``."""

    item_ids: list[str]
    leaf: IntArray
    brand: IntArray
    price: FloatArray
    price_z: FloatArray
    in_stock: npt.NDArray[np.bool_]
    created_us: IntArray
    words: list[set[str]]
    n_leaves: int
    n_brands: int

    @classmethod
    def from_products(cls, products: Sequence[Product]) -> ItemTable:
        leaves: dict[str, int] = {}
        brands: dict[str, int] = {}
        leaf = np.array([leaves.setdefault(" > ".join(p.category), len(leaves)) for p in products])
        brand = np.array([brands.setdefault(p.brand or "", len(brands)) for p in products])
        price = np.array([p.price if p.price and p.price > 0 else np.nan for p in products])
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
            leaf=leaf.astype(np.int64),
            brand=brand.astype(np.int64),
            price=np.nan_to_num(price, nan=0.0).astype(np.float32),
            price_z=price_z.astype(np.float32),
            in_stock=np.array([p.in_stock is not False for p in products], dtype=bool),
            created_us=np.array(created, dtype=np.int64),
            words=[tokens(p.title) for p in products],
            n_leaves=max(len(leaves), 1),
            n_brands=max(len(brands), 1),
        )

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class EventArrays:
    """A time-ordered event log as index arrays, each ``(n,)``: ``user`` (any int code),
    ``item`` (index into the item table, -1 for none), ``kind`` (an :class:`EventKind`
    value), ``time`` (epoch µs), ``session`` (int code), ``request`` (int code, -1 for
    none), ``position`` (-1 for none)."""

    user: IntArray
    item: IntArray
    kind: npt.NDArray[np.str_]
    time: IntArray
    session: IntArray
    request: IntArray
    position: IntArray


@dataclass(frozen=True)
class ItemStats:
    """What the event log says about each item, each ``(n_items,)``: distinct shoppers who
    interacted (``log_users``), interactions in the last week (``log_recent``), smoothed
    click-through rate of impressions (``ctr_logit``) and purchases per click
    (``cvr_logit``); ``after_purchase`` ``(n_leaves, n_leaves)`` is the log-share of clicks
    in leaf ``b`` within the visit after a purchase in leaf ``a``."""

    log_users: FloatArray
    log_recent: FloatArray
    ctr_logit: FloatArray
    cvr_logit: FloatArray
    after_purchase: FloatArray
    now_us: int

    @classmethod
    def from_log(cls, log: EventArrays, table: ItemTable, now_us: int | None = None) -> ItemStats:
        n = len(table)
        now = int(log.time.max()) if now_us is None and log.time.size else int(now_us or 0)
        has = log.item >= 0
        item, kind, time = log.item[has], log.kind[has], log.time[has]
        engaged = kind != EventKind.IMPRESSION.value
        pairs = np.unique(np.stack([log.user[has][engaged], item[engaged]]), axis=1)
        users = np.bincount(pairs[1], minlength=n)
        recent = np.bincount(item[engaged & (time >= now - RECENT_DAYS * _US_PER_DAY)], minlength=n)
        shown = np.bincount(item[kind == EventKind.IMPRESSION.value], minlength=n)
        clicks = np.bincount(item[kind == EventKind.CLICK.value], minlength=n)
        bought = np.bincount(item[kind == EventKind.PURCHASE.value], minlength=n)
        base_ctr = (clicks.sum() + 1.0) / (shown.sum() + 2.0)
        base_cvr = (bought.sum() + 1.0) / (clicks.sum() + 2.0)
        ctr = (clicks + 20.0 * base_ctr) / (shown + 20.0)
        cvr = (bought + 20.0 * base_cvr) / (clicks + 20.0)
        return cls(
            log_users=np.log1p(users).astype(np.float32),
            log_recent=np.log1p(recent).astype(np.float32),
            ctr_logit=np.log(ctr / (1 - ctr)).astype(np.float32),
            cvr_logit=np.log(cvr / (1 - cvr)).astype(np.float32),
            after_purchase=_after_purchase(log, table),
            now_us=now,
        )


def _after_purchase(log: EventArrays, table: ItemTable) -> FloatArray:
    """``(n_leaves, n_leaves)`` log-share of clicks per leaf following a purchase in a leaf
    during the same session."""
    counts = np.zeros((table.n_leaves, table.n_leaves))
    last_leaf: dict[int, int] = {}
    for session, item, kind in zip(log.session, log.item, log.kind, strict=True):
        if item < 0:
            continue
        if kind == EventKind.PURCHASE.value:
            last_leaf[int(session)] = int(table.leaf[item])
        elif kind == EventKind.CLICK.value and int(session) in last_leaf:
            counts[last_leaf[int(session)], table.leaf[item]] += 1.0
    share = (counts + 0.1) / (counts.sum(axis=1, keepdims=True) + 0.1 * table.n_leaves)
    result: FloatArray = np.log(share * table.n_leaves).astype(np.float32)
    return result


@dataclass
class ShopperState:
    """A shopper's running history: items (oldest first) with event-kind weights, category
    and brand counts, the mean price position of what they engaged with, and their last
    purchase. ``observe`` one event at a time; the models read ``items`` / ``weights``."""

    n_leaves: int
    n_brands: int
    items: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    leaf_counts: FloatArray = field(init=False)
    brand_counts: FloatArray = field(init=False)
    price_sum: float = 0.0
    engaged: int = 0
    last_purchase_leaf: int = -1
    last_purchase_us: int = -(2**62)

    def __post_init__(self) -> None:
        self.leaf_counts = np.zeros(self.n_leaves, np.float32)
        self.brand_counts = np.zeros(self.n_brands, np.float32)

    def snapshot(self) -> ShopperState:
        """An independent copy (the state at this moment)."""
        copy = ShopperState(self.n_leaves, self.n_brands, list(self.items), list(self.weights))
        copy.leaf_counts = self.leaf_counts.copy()
        copy.brand_counts = self.brand_counts.copy()
        copy.price_sum, copy.engaged = self.price_sum, self.engaged
        copy.last_purchase_leaf, copy.last_purchase_us = (
            self.last_purchase_leaf,
            self.last_purchase_us,
        )
        return copy

    def observe(self, table: ItemTable, item: int, kind: str, time_us: int) -> None:
        """Add one event (impressions and searches carry no interest and are ignored)."""
        weight = DEFAULT_EVENT_WEIGHTS.get(EventKind(kind), 0.0)
        if weight <= 0 or item < 0:
            return
        self.items.append(item)
        self.weights.append(weight)
        self.leaf_counts[table.leaf[item]] += weight
        self.brand_counts[table.brand[item]] += weight
        self.price_sum += float(table.price_z[item])
        self.engaged += 1
        if kind == EventKind.PURCHASE.value:
            self.last_purchase_leaf = int(table.leaf[item])
            self.last_purchase_us = time_us


FEATURES_PER_SOURCE = ("log_rank", "score_z")
ITEM_FEATURES = (
    "log_users",
    "log_recent",
    "ctr_logit",
    "cvr_logit",
    "log_age_days",
    "in_stock",
    "price_z",
)
PAIR_FEATURES = (
    "leaf_share",
    "brand_share",
    "price_gap",
    "price_gap_sq",
    "overprice",
    "log_history",
    "seen_before",
    "after_purchase",
    "query_match",
)


@dataclass(frozen=True)
class FeatureBuilder:
    """Turns a shopper's state, candidate items and retrieval scores into feature rows."""

    table: ItemTable
    stats: ItemStats
    sources: tuple[str, ...]

    @property
    def feature_names(self) -> list[str]:
        per_source = [f"{s}.{f}" for s in self.sources for f in FEATURES_PER_SOURCE]
        return per_source + list(ITEM_FEATURES) + list(PAIR_FEATURES)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def build(
        self,
        state: ShopperState,
        candidates: IntArray,
        source_scores: Mapping[str, FloatArray],
        now_us: int,
        query: str | None = None,
    ) -> FloatArray:
        """Feature rows ``(k, n_features)`` for ``candidates`` ``(k,)``.

        ``source_scores[name]`` holds that model's score of **every** item ``(n_items,)``
        for this shopper (the rank among all items is a feature).
        """
        columns: list[npt.NDArray[np.floating]] = []
        for name in self.sources:
            scores = np.nan_to_num(
                np.asarray(source_scores[name], np.float64), nan=-1e9, posinf=1e9, neginf=-1e9
            )
            order = np.argsort(-scores, kind="stable")
            rank = np.empty(scores.size, np.int64)
            rank[order] = np.arange(scores.size)
            finite = scores[scores > -1e8]
            mean, spread = (finite.mean(), finite.std() + 1e-9) if finite.size else (0.0, 1.0)
            columns.append(np.log1p(rank[candidates]))
            columns.append(np.clip((scores[candidates] - mean) / spread, -10.0, 10.0))
        table, stats = self.table, self.stats
        age_days = (now_us - table.created_us[candidates]) / _US_PER_DAY
        columns += [
            stats.log_users[candidates],
            stats.log_recent[candidates],
            stats.ctr_logit[candidates],
            stats.cvr_logit[candidates],
            np.log1p(np.clip(age_days, 0.0, None)),
            table.in_stock[candidates].astype(np.float64),
            table.price_z[candidates],
        ]
        total = max(float(state.leaf_counts.sum()), 1e-9)
        level = state.price_sum / state.engaged if state.engaged else 0.0
        gap = table.price_z[candidates] - level
        seen = np.isin(candidates, np.asarray(state.items, np.int64))
        recent_purchase = now_us - state.last_purchase_us <= COMPLEMENT_WINDOW_US
        after = (
            stats.after_purchase[state.last_purchase_leaf, table.leaf[candidates]]
            if recent_purchase and state.last_purchase_leaf >= 0
            else np.zeros(candidates.size)
        )
        columns += [
            state.leaf_counts[table.leaf[candidates]] / total,
            state.brand_counts[table.brand[candidates]] / total,
            gap,
            gap**2,
            np.maximum(gap, 0.0),
            np.full(candidates.size, np.log1p(state.engaged)),
            seen.astype(np.float64),
            after,
            self._query_match(candidates, query),
        ]
        return np.stack(columns, axis=1).astype(np.float32)

    def _query_match(self, candidates: IntArray, query: str | None) -> npt.NDArray[np.float64]:
        """Share of the query's words in each candidate's title (0 without a query)."""
        words = tokens(query) if query else set()
        if not words:
            return np.zeros(candidates.size)
        return np.array([len(words & self.table.words[i]) / len(words) for i in candidates])
