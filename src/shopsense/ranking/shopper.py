"""A shopper's running history, as the ranker's features read it.

Example::

    >>> from shopsense.domain import Product
    >>> table = ItemTable.from_products([Product(id=p, title=p) for p in ("p1", "p2", "p3")])
    >>> state = shopper_state(table, [("p1", "view", 0), ("p2", "impression", 1_000_000)])
    >>> state.skips(np.array([0, 1, 2]))     # times each candidate was shown and not clicked
    array([0., 1., 0.])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shopsense.domain import EventKind
from shopsense.ranking.items import EVENT_WEIGHT, FloatArray, IntArray, ItemTable

# Plain strings: an enum member's ``.value`` is a descriptor lookup, on every event of
# every served list.
_IMPRESSION, _CLICK, _PURCHASE = (
    EventKind.IMPRESSION.value,
    EventKind.CLICK.value,
    EventKind.PURCHASE.value,
)


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
        if kind == _IMPRESSION:
            self.shown[item] = self.shown.get(item, 0) + 1
            self.n_shown += 1
            return
        if kind == _CLICK:
            self.clicked[item] = self.clicked.get(item, 0) + 1
            self.n_clicked += 1
        weight = EVENT_WEIGHT.get(kind, 0.0)
        if weight <= 0:
            return
        self.last_step[item] = len(self.items)
        self.items.append(item)
        self.weights.append(weight)
        self.engaged_count[item] = self.engaged_count.get(item, 0) + 1
        self.leaf_counts[table.leaf[item]] += weight
        self.brand_counts[table.brand[item]] += weight
        self.price_sum += float(table.price_z[item])
        if kind == _PURCHASE:
            self.last_purchase_leaf = int(table.leaf[item])
            self.last_purchase_us = time_us

    def skips(self, candidates: IntArray) -> npt.NDArray[np.float64]:
        """Times each candidate ``(k,)`` was shown to the shopper and not clicked."""
        shown = values_at(self.shown, candidates)
        return np.maximum(shown - values_at(self.clicked, candidates), 0.0)


def values_at(
    mapping: Mapping[int, float], items: IntArray, default: float = 0.0
) -> npt.NDArray[np.float64]:
    """``mapping[i]`` for each of ``items`` ``(k,)`` (``default`` where missing), looked up
    with arrays: a list-comprehension of ``dict.get`` costs more on a served list."""
    if not mapping:
        return np.full(len(items), default, np.float64)
    keys = np.fromiter(mapping.keys(), np.int64, len(mapping))
    values = np.fromiter(mapping.values(), np.float64, len(mapping))
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    at = np.minimum(np.searchsorted(keys, items), keys.size - 1)
    return np.where(keys[at] == items, values[at], default)


def shopper_state(table: ItemTable, events: Sequence[tuple[str | None, str, int]]) -> ShopperState:
    """A state from ``(item_id, kind, time_us)`` triples, oldest first (unknown items skipped)."""
    state = ShopperState(table.n_leaves, table.n_brands)
    index = table.index
    for item_id, kind, time_us in events:
        item = index.get(item_id, -1) if item_id is not None else -1
        state.observe(table, item, kind, time_us)
    return state
