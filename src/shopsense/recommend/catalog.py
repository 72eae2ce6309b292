"""The serving copy of the catalog: products in memory, with filter masks per model.

Requests never read products from the database: :class:`CatalogView` holds them, and a
``PUT /catalog/products`` updates it right after the store commits. Business rules (in
stock, category, brand, price) become a boolean mask over a model's items, cached until
the catalog changes.

Example::

    >>> from shopsense.domain import Product
    >>> from shopsense.features.idmap import IdMap
    >>> view = CatalogView([Product(id="p1", title="Mug", category="Home > Kitchen"),
    ...                     Product(id="p2", title="Tent", category="Outdoor", in_stock=False)])
    >>> view.mask(IdMap(["p1", "p2", "gone"]), ItemFilter()).tolist()
    [True, False, False]
    >>> view.mask(IdMap(["p1", "p2"]), ItemFilter(category="Outdoor", in_stock_only=False)).tolist()
    [False, True]
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cachetools import FIFOCache

from shopsense.domain import CATEGORY_SEPARATOR, Product
from shopsense.features.idmap import IdMap

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ItemFilter:
    """What may be shown. ``category`` matches a path prefix (``"Home"``, ``"Home > Kitchen"``)."""

    category: str | None = None
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    in_stock_only: bool = True


@dataclass(frozen=True)
class _Columns:
    """Product attributes aligned with one model's item indices (``(n_items,)`` each)."""

    known: BoolArray
    in_stock: BoolArray
    price: npt.NDArray[np.float64]
    category: npt.NDArray[np.str_]
    brand: npt.NDArray[np.str_]


def top_category(product: Product | None) -> str:
    """The first level of the product's category path, or ``""``."""
    return product.category[0] if product is not None and product.category else ""


class CatalogView:
    """Thread-safe in-memory products; ``version`` changes on every update."""

    def __init__(self, products: Iterable[Product] = ()) -> None:
        self._products: dict[str, Product] = {p.id: p for p in products}
        self._lock = threading.Lock()
        self.version = 0
        # First in, first out (a hit reorders nothing); both are emptied on every change.
        self._columns: FIFOCache[int, tuple[IdMap, int, _Columns]] = FIFOCache(maxsize=8)
        self._masks: FIFOCache[tuple[int, int, ItemFilter], BoolArray] = FIFOCache(maxsize=256)

    def __len__(self) -> int:
        return len(self._products)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._products

    def get(self, product_id: str) -> Product | None:
        return self._products.get(product_id)

    def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        """The known products among ``product_ids``, in the order asked."""
        found = (self._products.get(i) for i in product_ids)
        return [p for p in found if p is not None]

    def products(self) -> list[Product]:
        return list(self._products.values())

    def categories(self) -> list[str]:
        """Top-level categories, sorted."""
        return sorted({top_category(p) for p in self._products.values()} - {""})

    def upsert(self, products: Sequence[Product]) -> None:
        """Replace or add products (call after the store committed them)."""
        with self._lock:
            updated = dict(self._products)
            updated.update((p.id, p) for p in products)
            self._products = updated
            self._invalidate()

    def remove(self, product_ids: Sequence[str]) -> None:
        with self._lock:
            self._products = {k: v for k, v in self._products.items() if k not in set(product_ids)}
            self._invalidate()

    def _invalidate(self) -> None:
        self.version += 1
        self._columns.clear()
        self._masks.clear()

    def _columns_for(self, items: IdMap) -> _Columns:
        key = id(items)
        with self._lock:
            cached = self._columns.get(key)
            # The IdMap is kept in the entry, so its id() cannot be reused while cached.
            if cached is not None and cached[0] is items and cached[1] == self.version:
                return cached[2]
            version = self.version
            products = self._products
            entries = list(self._columns.values())
        ids = items.to_list()
        # Models of one bundle, and bundles trained on the same catalog, share item lists:
        # reuse their columns (a hot swap then computes nothing here).
        shared = next(
            (
                c
                for other, v, c in entries
                if v == version and len(other) == len(ids) and other.to_list() == ids
            ),
            None,
        )
        if shared is not None:
            with self._lock:
                self._columns[key] = (items, version, shared)
            return shared
        found = [products.get(i) for i in ids]
        columns = _Columns(
            known=np.array([p is not None for p in found], dtype=bool),
            in_stock=np.array([p is not None and p.in_stock for p in found], dtype=bool),
            price=np.array(
                [np.nan if p is None or p.price is None else p.price for p in found], np.float64
            ),
            category=np.array([p.category_path if p else "" for p in found], dtype=str),
            brand=np.array([(p.brand or "") if p else "" for p in found], dtype=str),
        )
        with self._lock:
            if version == self.version:
                self._columns[key] = (items, version, columns)
        return columns

    def mask(self, items: IdMap, rules: ItemFilter) -> BoolArray:
        """``True`` where the model's item may be shown under ``rules``; shape ``(n_items,)``."""
        key = (id(items), self.version, rules)
        with self._lock:  # cachetools' caches are not thread-safe
            cached = self._masks.get(key)
        if cached is not None:
            return cached
        c = self._columns_for(items)
        keep = c.known.copy()
        if rules.in_stock_only:
            keep &= c.in_stock
        if rules.category:
            prefix = rules.category.strip()
            keep &= (c.category == prefix) | np.char.startswith(
                c.category, prefix + CATEGORY_SEPARATOR
            )
        if rules.brand:
            keep &= np.char.lower(c.brand) == rules.brand.strip().lower()
        with np.errstate(invalid="ignore"):
            if rules.price_min is not None:
                keep &= c.price >= rules.price_min
            if rules.price_max is not None:
                keep &= c.price <= rules.price_max
        keep.setflags(write=False)
        with self._lock:
            if key[1] == self.version:
                self._masks[key] = keep
        return keep
