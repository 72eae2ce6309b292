"""Ranking features: what is known about an item, a shopper and the pair, as one row.

Everything here is observable by a shop: catalog fields (category, brand, price, stock,
launch date, title), statistics of the logged events (interactions, recent interactions,
click-through, add-to-cart and purchase rates), the shopper's own history (what they engaged
with, how often and how recently, what they were shown and skipped), and the scores of the
retrieval models. Nothing reads a simulator's hidden truth.

Retrieval scores enter as rank-robust transforms (``log1p`` of the item's rank among all
items and the score's z-value over all items), so a model refitted on more data feeds the
ranker the same kind of numbers it was trained on.

Example::

    >>> table = ItemTable.from_products(products)                          # doctest: +SKIP
    >>> stats = ItemStats.from_log(log, table)                             # doctest: +SKIP
    >>> builder = FeatureBuilder(table, stats, sources=("als", "item_knn"))  # doctest: +SKIP
    >>> rows = builder.build(state, candidates, {"als": s1, "item_knn": s2}, now_us)
    >>> rows.shape                                     # (len(candidates), builder.n_features)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.domain import CATEGORY_SEPARATOR, DEFAULT_EVENT_WEIGHTS, EventKind, Product
from shopsense.store.base import to_micros

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
_US_PER_DAY = 86_400 * 1_000_000
_TOKEN = re.compile(r"[a-z0-9]+")
#: A purchase this recent (same visit) puts the shopper in "complements" context.
COMPLEMENT_WINDOW_US = 2 * 3600 * 1_000_000
RECENT_DAYS = 7.0
#: Pseudo-counts that pull an item's (or shopper's) rates towards the shop's overall rate.
RATE_PRIOR = 20.0
_WEIGHT = {k.value: w for k, w in DEFAULT_EVENT_WEIGHTS.items()}


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def _logit(p: npt.NDArray[np.float64]) -> FloatArray:
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
    shrunk = _logit((hits + RATE_PRIOR * base) / (trials + RATE_PRIOR))
    result: FloatArray = shrunk - _logit(np.array([base]))[0]
    return result


def _log_share(counts: npt.NDArray[np.int64]) -> FloatArray:
    """``log((count + 1) / (mean count + 1))``: 0 for an average item, whatever the log size."""
    result: FloatArray = np.log((counts + 1.0) / (counts.mean() + 1.0)).astype(np.float32)
    return result


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
    shop's click-through rate."""

    log_users: FloatArray
    log_recent: FloatArray
    ctr_logit: FloatArray
    cart_logit: FloatArray
    cvr_logit: FloatArray
    after_purchase: FloatArray
    base_ctr: float
    now_us: int

    @classmethod
    def from_log(cls, log: EventArrays, table: ItemTable, now_us: int | None = None) -> ItemStats:
        n = len(table)
        now = int(log.time.max()) if now_us is None and log.time.size else int(now_us or 0)
        has = log.item >= 0
        item, kind, time = log.item[has], log.kind[has], log.time[has]
        engaged = np.isin(kind, [k for k, w in _WEIGHT.items() if w > 0])
        pairs = np.unique(np.stack([log.user[has][engaged], item[engaged]]), axis=1)
        users = np.bincount(pairs[1], minlength=n)
        recent = np.bincount(item[engaged & (time >= now - RECENT_DAYS * _US_PER_DAY)], minlength=n)

        def count(which: EventKind) -> npt.NDArray[np.float64]:
            return np.bincount(item[kind == which.value], minlength=n).astype(np.float64)

        shown, clicks = count(EventKind.IMPRESSION), count(EventKind.CLICK)
        carts, bought = count(EventKind.ADD_TO_CART), count(EventKind.PURCHASE)
        base_ctr = (clicks.sum() + 1.0) / (shown.sum() + 2.0)
        base_cart = (carts.sum() + 1.0) / (clicks.sum() + 2.0)
        base_cvr = (bought.sum() + 1.0) / (clicks.sum() + 2.0)
        return cls(
            log_users=_log_share(users),
            log_recent=_log_share(recent),
            ctr_logit=_rate(clicks, shown, base_ctr),
            cart_logit=_rate(carts, clicks, base_cart),
            cvr_logit=_rate(bought, clicks, base_cvr),
            after_purchase=_after_purchase(log, table),
            base_ctr=float(base_ctr),
            now_us=now,
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        np.savez(directory / "item_stats.npz", **arrays)

    @classmethod
    def load(cls, directory: Path) -> ItemStats:
        with np.load(directory / "item_stats.npz", allow_pickle=False) as arrays:
            values: dict[str, Any] = {k: arrays[k] for k in arrays.files}
        values["base_ctr"] = float(values["base_ctr"])
        values["now_us"] = int(values["now_us"])
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


@dataclass
class ShopperState:
    """A shopper's running history. ``observe`` one event at a time, oldest first.

    ``items`` / ``weights``: the engagements (views, clicks, carts, purchases) in order with
    their event-kind weights (what retrieval models score); per item the engagement count,
    the step of its latest engagement, and how often it was shown (impressions) and
    clicked; category and brand weights, the mean price position of what they engaged
    with, and their last purchase.
    """

    n_leaves: int
    n_brands: int
    items: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    engaged_count: dict[int, int] = field(default_factory=dict)
    last_step: dict[int, int] = field(default_factory=dict)
    shown: dict[int, int] = field(default_factory=dict)
    clicked: dict[int, int] = field(default_factory=dict)
    n_shown: int = 0
    n_clicked: int = 0
    leaf_counts: FloatArray = field(init=False)
    brand_counts: FloatArray = field(init=False)
    price_sum: float = 0.0
    last_purchase_leaf: int = -1
    last_purchase_us: int = -(2**62)

    def __post_init__(self) -> None:
        self.leaf_counts = np.zeros(self.n_leaves, np.float32)
        self.brand_counts = np.zeros(self.n_brands, np.float32)

    @property
    def engaged(self) -> int:
        return len(self.items)

    def snapshot(self) -> ShopperState:
        """An independent copy (the state at this moment)."""
        copy = ShopperState(
            self.n_leaves,
            self.n_brands,
            list(self.items),
            list(self.weights),
            dict(self.engaged_count),
            dict(self.last_step),
            dict(self.shown),
            dict(self.clicked),
            self.n_shown,
            self.n_clicked,
        )
        copy.leaf_counts = self.leaf_counts.copy()
        copy.brand_counts = self.brand_counts.copy()
        copy.price_sum = self.price_sum
        copy.last_purchase_leaf, copy.last_purchase_us = (
            self.last_purchase_leaf,
            self.last_purchase_us,
        )
        return copy

    def observe(self, table: ItemTable, item: int, kind: str, time_us: int) -> None:
        """Add one event (searches and events on unknown items change nothing)."""
        if item < 0:
            return
        if kind == EventKind.IMPRESSION.value:
            self.shown[item] = self.shown.get(item, 0) + 1
            self.n_shown += 1
            return
        if kind == EventKind.CLICK.value:
            self.clicked[item] = self.clicked.get(item, 0) + 1
            self.n_clicked += 1
        weight = _WEIGHT.get(kind, 0.0)
        if weight <= 0:
            return
        self.last_step[item] = len(self.items)
        self.items.append(item)
        self.weights.append(weight)
        self.engaged_count[item] = self.engaged_count.get(item, 0) + 1
        self.leaf_counts[table.leaf[item]] += weight
        self.brand_counts[table.brand[item]] += weight
        self.price_sum += float(table.price_z[item])
        if kind == EventKind.PURCHASE.value:
            self.last_purchase_leaf = int(table.leaf[item])
            self.last_purchase_us = time_us

    def skips(self, candidates: IntArray) -> npt.NDArray[np.float64]:
        """Times each candidate ``(k,)`` was shown to the shopper and not clicked."""
        return np.array(
            [max(self.shown.get(int(i), 0) - self.clicked.get(int(i), 0), 0) for i in candidates],
            np.float64,
        )


def shopper_state(table: ItemTable, events: Sequence[tuple[str | None, str, int]]) -> ShopperState:
    """A state from ``(item_id, kind, time_us)`` triples, oldest first (unknown items skipped)."""
    state = ShopperState(table.n_leaves, table.n_brands)
    index = table.index
    for item_id, kind, time_us in events:
        item = index.get(item_id, -1) if item_id is not None else -1
        state.observe(table, item, kind, time_us)
    return state


FEATURES_PER_SOURCE = ("log_rank", "score_z")
ITEM_FEATURES = (
    "log_users",
    "log_recent",
    "ctr_logit",
    "cart_logit",
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
    "log_engaged",
    "log_steps_since",
    "is_last",
    "log_skips",
    "shopper_ctr_logit",
    "after_purchase",
    "query_match",
)


@dataclass(frozen=True)
class FeatureBuilder:
    """Turns a shopper's state, candidate items and retrieval scores into feature rows.

    ``blend``: weights of the retrieval blend; its score is one more source (``"blend"``),
    the ranker's strongest prior where little feedback is logged.
    """

    table: ItemTable
    stats: ItemStats
    sources: tuple[str, ...]
    blend: Mapping[str, float] = field(default_factory=dict)
    #: Sources whose scores are log-probabilities: they also enter as they are (``log_prob``).
    probabilistic: tuple[str, ...] = ()

    @property
    def scored(self) -> tuple[str, ...]:
        """The sources that get rank / z features (the blend last, when there is one)."""
        return (*self.sources, "blend") if self.blend else self.sources

    @property
    def feature_names(self) -> list[str]:
        per_source = [f"{s}.{f}" for s in self.scored for f in FEATURES_PER_SOURCE]
        per_source += [f"{s}.log_prob" for s in self.probabilistic]
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
        for name in self.scored:
            raw = blended(source_scores, self.blend) if name == "blend" else source_scores[name]
            scores = np.nan_to_num(np.asarray(raw, np.float64), nan=-1e9, posinf=1e9, neginf=-1e9)
            finite = scores > -1e8
            above = _count_above(scores, candidates)
            mean, spread = (
                (scores[finite].mean(), scores[finite].std() + 1e-9) if finite.any() else (0, 1)
            )
            columns.append(np.log1p(above))
            columns.append(np.clip((scores[candidates] - mean) / spread, -10.0, 10.0))
        for name in self.probabilistic:
            log_p = np.asarray(source_scores[name], np.float64)[candidates]
            columns.append(np.clip(np.nan_to_num(log_p, nan=-30.0, neginf=-30.0), -30.0, 0.0))
        table, stats = self.table, self.stats
        age_days = (now_us - table.created_us[candidates]) / _US_PER_DAY
        columns += [
            stats.log_users[candidates],
            stats.log_recent[candidates],
            stats.ctr_logit[candidates],
            stats.cart_logit[candidates],
            stats.cvr_logit[candidates],
            np.log1p(np.clip(age_days, 0.0, None)),
            table.in_stock[candidates].astype(np.float64),
            table.price_z[candidates],
        ]
        total = max(float(state.leaf_counts.sum()), 1e-9)
        level = state.price_sum / state.engaged if state.engaged else 0.0
        gap = table.price_z[candidates] - level
        engaged = np.array([state.engaged_count.get(int(i), 0) for i in candidates], np.float64)
        since = np.array(
            [state.engaged - state.last_step.get(int(i), -1) - 1 for i in candidates], np.float64
        )
        since[engaged == 0] = state.engaged + 1.0
        last = state.items[-1] if state.items else -1
        recent_purchase = now_us - state.last_purchase_us <= COMPLEMENT_WINDOW_US
        after = (
            stats.after_purchase[state.last_purchase_leaf, table.leaf[candidates]]
            if recent_purchase and state.last_purchase_leaf >= 0
            else np.zeros(candidates.size)
        )
        shopper_ctr = (state.n_clicked + RATE_PRIOR * stats.base_ctr) / (state.n_shown + RATE_PRIOR)
        columns += [
            state.leaf_counts[table.leaf[candidates]] / total,
            state.brand_counts[table.brand[candidates]] / total,
            gap,
            gap**2,
            np.maximum(gap, 0.0),
            np.full(candidates.size, np.log1p(state.engaged)),
            np.log1p(engaged),
            np.log1p(since),
            (candidates == last).astype(np.float64),
            np.log1p(state.skips(candidates)),
            np.full(candidates.size, math.log(shopper_ctr / (1 - shopper_ctr))),
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


def blended(scores: Mapping[str, npt.ArrayLike], weights: Mapping[str, float]) -> FloatArray:
    """The blend of one shopper's source scores ``(n_items,)``: each source z-scored over
    its finite values, weighted and summed (``-inf`` where a weighted source has none)."""
    total: npt.NDArray[np.float64] | None = None
    for name, weight in weights.items():
        if not weight:
            continue
        values = np.asarray(scores[name], np.float64)
        finite = np.isfinite(values)
        mean = values[finite].mean() if finite.any() else 0.0
        spread = values[finite].std() if finite.any() else 1.0
        part = float(weight) * (values - mean) / (spread or 1.0)
        total = part if total is None else total + part
    if total is None:
        raise ValueError("the blend has no model with a weight")
    result: FloatArray = total.astype(np.float32)
    return result


def _count_above(scores: npt.NDArray[np.float64], candidates: IntArray) -> npt.NDArray[np.float64]:
    """For each candidate, how many items score strictly higher (its 0-based rank)."""
    ordered = np.sort(scores)
    higher = ordered.size - np.searchsorted(ordered, scores[candidates], side="right")
    return higher.astype(np.float64)
