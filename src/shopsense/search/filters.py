"""Structured filters on a search and the facet counts of a result set.

Example::

    >>> f = Filters(categories=("Sports > Running",), price_max=80, in_stock=True)
    >>> f.is_empty()
    False
    >>> f.merged(Filters(brands=("Nike",))).brands
    ('Nike',)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shopsense.domain import Product
from shopsense.index.lexical import LexicalFilter

#: Upper bounds of the price facet's buckets; the last bucket is open.
PRICE_BUCKETS = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)


@dataclass(frozen=True)
class Filters:
    """What a result must satisfy. Empty fields do not restrict.

    ``categories``: category paths (``"Home > Kitchen"`` matches everything below it);
    ``brands``; ``attributes``: ``{"color": ["blue", "navy"], "size": "M"}`` (alternatives
    within an attribute, all attributes must match). Matching ignores case.
    """

    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool | None = None
    attributes: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Filters:
        """Build from JSON-like input (lists or single strings for the list fields)."""

        def strings(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            return (value,) if isinstance(value, str) else tuple(str(v) for v in value)

        return cls(
            categories=strings(data.get("categories", data.get("category"))),
            brands=strings(data.get("brands", data.get("brand"))),
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            in_stock=data.get("in_stock"),
            attributes=dict(data.get("attributes") or {}),
        )

    def is_empty(self) -> bool:
        return self.to_lexical().is_empty()

    def merged(self, inferred: Filters) -> Filters:
        """These filters, with ``inferred`` ones filling only the fields left empty."""
        attributes = {**inferred.attributes, **self.attributes}
        return replace(
            self,
            categories=self.categories or inferred.categories,
            brands=self.brands or inferred.brands,
            price_min=self.price_min if self.price_min is not None else inferred.price_min,
            price_max=self.price_max if self.price_max is not None else inferred.price_max,
            in_stock=self.in_stock if self.in_stock is not None else inferred.in_stock,
            attributes=attributes,
        )

    def to_lexical(self, rows: tuple[int, ...] | None = None) -> LexicalFilter:
        groups = []
        for key, values in sorted(self.attributes.items()):
            options = (values,) if isinstance(values, str) else tuple(values)
            groups.append(tuple(f"{key.lower()}={str(v).lower()}" for v in options))
        return LexicalFilter(
            brands=tuple(b.lower() for b in self.brands),
            categories=tuple(
                " > ".join(p.strip() for p in c.split(">")).lower() for c in self.categories
            ),
            attributes=tuple(groups),
            price_min=self.price_min,
            price_max=self.price_max,
            in_stock=self.in_stock,
            rows=rows,
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.categories:
            data["categories"] = list(self.categories)
        if self.brands:
            data["brands"] = list(self.brands)
        for name in ("price_min", "price_max", "in_stock"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.attributes:
            data["attributes"] = dict(self.attributes)
        return data


def price_bucket(price: float) -> str:
    """The price facet label of ``price``: ``"25-50"``, ``"1000+"``."""
    low = 0.0
    for high in PRICE_BUCKETS:
        if price < high:
            return f"{low:g}-{high:g}"
        low = high
    return f"{low:g}+"


def facet_counts(
    products: Iterable[Product], attributes: Sequence[str] = ("color", "size"), top: int = 20
) -> dict[str, list[tuple[str, int]]]:
    """Counts per value of category (each level), brand, price bucket, stock and the given
    attributes over ``products`` (the whole result set, not one page), most common first."""
    counters: dict[str, Counter[str]] = {
        name: Counter() for name in ("category", "brand", "price", "in_stock", *attributes)
    }
    for product in products:
        for depth in range(1, len(product.category) + 1):
            counters["category"][" > ".join(product.category[:depth])] += 1
        if product.brand:
            counters["brand"][product.brand] += 1
        if product.price is not None:
            counters["price"][price_bucket(product.price)] += 1
        counters["in_stock"]["true" if product.in_stock else "false"] += 1
        for name in attributes:
            value = product.attributes.get(name)
            if value is not None:
                counters[name][str(value)] += 1
    return {name: c.most_common(top) for name, c in counters.items() if c}
