"""What the shopper is looking at on the search page: query, facet choices, sort and page.

:class:`Browse` reads them from the URL and writes every link of the page (a facet value
toggled, another sort, another page), so that no choice is lost on the way: a sort change
keeps the filters, a facet click keeps the sort, paging keeps both.

Example::

    >>> b = Browse(q="shoes", brand="Trailmark", sort="price_asc")
    >>> b.url(page=2)
    '/shop/search?q=shoes&brand=Trailmark&sort=price_asc&page=2'
    >>> b.toggled("brand", "Trailmark").url()     # clicking the active value clears it
    '/shop/search?q=shoes&sort=price_asc'
    >>> Browse(price="25-50").filters().price_min
    25.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from shopsense.api.cards import money
from shopsense.search import Filters

PATH = "/shop/search"
PAGE_SIZE = 12
MAX_PAGE = 100
#: Facet names as a shopper reads them.
TITLES = {"category": "Category", "brand": "Brand", "price": "Price",
          "in_stock": "Availability", "color": "Colour", "size": "Size"}  # fmt: skip
_BUCKET = re.compile(r"^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?)|\+)$")


def bucket_bounds(label: str) -> tuple[float, float | None] | None:
    """``"25-50"`` -> ``(25.0, 50.0)``, ``"1000+"`` -> ``(1000.0, None)``; ``None`` when
    ``label`` is not a price facet's bucket."""
    found = _BUCKET.match(label.strip())
    if not found:
        return None
    high = found.group(2)
    return float(found.group(1)), float(high) if high is not None else None


def bucket_label(label: str, currency: str) -> str:
    """A price bucket as shoppers read it: ``"$25 – $50"``, ``"Under $10"``, ``"$1,000+"``."""
    bounds = bucket_bounds(label)
    if bounds is None:
        return label
    low, high = bounds

    def amount(value: float) -> str:
        return money(value, currency).removesuffix(".00")

    if high is None:
        return f"{amount(low)} and up"
    return f"Under {amount(high)}" if low == 0 else f"{amount(low)} – {amount(high)}"


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    url: str
    active: bool
    depth: int = 0


@dataclass(frozen=True)
class Browse:
    """The search page's state. ``attributes``: chosen attribute facets (colour, size)."""

    q: str = ""
    category: str = ""
    brand: str = ""
    price: str = ""
    in_stock: str = ""
    attributes: tuple[tuple[str, str], ...] = ()
    sort: str = "relevance"
    page: int = 1
    #: Show why each result is where it is (``?why=1``): kept by every link of the page.
    why: bool = False
    attribute_names: tuple[str, ...] = field(default=("color", "size"), compare=False)

    @classmethod
    def from_query(
        cls, params: Mapping[str, str], sorts: Sequence[str], attribute_names: Sequence[str]
    ) -> Browse:
        """From the URL's parameters: unknown sorts, bad pages and bad buckets are dropped
        (a shared or hand-edited link still shows results)."""

        def text(name: str, limit: int = 500) -> str:
            return params.get(name, "").strip()[:limit]

        page = text("page", 6)
        sort = text("sort", 40)
        attributes = tuple((n, text(n, 100)) for n in attribute_names if text(n, 100))
        return cls(
            q=text("q"),
            category=text("category"),
            brand=text("brand", 256),
            price=text("price", 40) if bucket_bounds(text("price", 40)) else "",
            in_stock=text("in_stock", 5) if text("in_stock", 5) in ("true", "false") else "",
            attributes=attributes,
            sort=sort if sort in sorts else "relevance",
            page=min(int(page), MAX_PAGE) if page.isdigit() and int(page) >= 1 else 1,
            why=text("why", 5) in ("1", "true"),
            attribute_names=tuple(attribute_names),
        )

    # -- what it asks of the engine -------------------------------------------------------

    def filters(self) -> Filters:
        bounds = bucket_bounds(self.price) if self.price else None
        low, high = bounds if bounds else (None, None)
        return Filters(
            categories=(self.category,) if self.category else (),
            brands=(self.brand,) if self.brand else (),
            price_min=low,
            # buckets hold prices below their upper bound ("25-50" is 25 <= price < 50)
            price_max=high - 0.001 if high is not None else None,
            in_stock={"true": True, "false": False}.get(self.in_stock),
            attributes=dict(self.attributes),
        )

    @property
    def filtered(self) -> bool:
        return bool(self.category or self.brand or self.price or self.in_stock or self.attributes)

    @property
    def searching(self) -> bool:
        """Whether there is something to show: a query, or a filter to browse by."""
        return bool(self.q) or self.filtered

    # -- links ----------------------------------------------------------------------------

    def choice(self, facet: str) -> str:
        if facet in ("category", "brand", "price", "in_stock"):
            return str(getattr(self, facet))
        return dict(self.attributes).get(facet, "")

    def params(self) -> list[tuple[str, str]]:
        pairs = [("q", self.q), ("category", self.category), ("brand", self.brand)]
        pairs += [("price", self.price), ("in_stock", self.in_stock), *self.attributes]
        pairs += [("sort", self.sort if self.sort != "relevance" else "")]
        pairs += [("page", str(self.page) if self.page > 1 else "")]
        pairs += [("why", "1" if self.why else "")]
        return [(k, v) for k, v in pairs if v]

    def url(self, **changes: Any) -> str:
        """This page's link, with ``changes`` (``page=2``, ``sort="price_asc"``)."""
        query = (
            urlencode(replace(self, **changes).params()) if changes else urlencode(self.params())
        )
        return f"{PATH}?{query}" if query else PATH

    def toggled(self, facet: str, value: str) -> Browse:
        """The state after clicking ``value`` of ``facet``: chosen, or cleared when it
        already was; back to page 1 either way."""
        value = "" if self.choice(facet) == value else value
        changes: dict[str, Any] = {facet: value}
        if facet in ("category", "brand", "price", "in_stock"):
            return replace(self, page=1, **changes)
        others = tuple((n, v) for n, v in self.attributes if n != facet)
        chosen = ((facet, value),) if value else ()
        return replace(self, page=1, attributes=others + chosen)

    def hidden_fields(self, leave_out: Sequence[str] = ("sort", "page")) -> list[tuple[str, str]]:
        """The parameters a form (the sort menu) must carry along."""
        return [(k, v) for k, v in self.params() if k not in leave_out]

    # -- what the page shows --------------------------------------------------------------

    def facets(
        self, counts: Mapping[str, Sequence[tuple[str, int]]], currency: str, top: int = 10
    ) -> list[tuple[str, str, list[FacetValue]]]:
        """Each facet as ``(name, title, values)``: prices in ascending order, categories
        as a tree, the others most common first; a chosen value is always listed."""
        out = []
        for name, pairs in counts.items():
            chosen = self.choice(name)
            shown = list(pairs[:top])
            if chosen and chosen not in {v for v, _ in shown}:
                shown += [(v, c) for v, c in pairs if v == chosen]
            if name == "price":
                shown = sorted(pairs, key=lambda p: (bucket_bounds(p[0]) or (math.inf, None))[0])
            elif name == "category":
                shown.sort(key=lambda p: p[0].lower())
            values = [
                FacetValue(
                    value=value,
                    label=self._label(name, value, currency),
                    count=count,
                    url=self.toggled(name, value).url(),
                    active=value == chosen,
                    depth=value.count(" > ") if name == "category" else 0,
                )
                for value, count in shown
            ]
            out.append((name, TITLES.get(name, name.replace("_", " ").capitalize()), values))
        return out

    @staticmethod
    def _label(name: str, value: str, currency: str) -> str:
        if name == "price":
            return bucket_label(value, currency)
        if name == "in_stock":
            return "In stock" if value == "true" else "Out of stock"
        if name == "category":
            return value.rsplit(" > ", 1)[-1]
        return value


def pages(current: int, total: int, page_size: int = PAGE_SIZE) -> list[int | None]:
    """The page numbers to link (``None`` where a gap is), e.g. ``[1, None, 4, 5, 6, None,
    20]`` around page 5 of 20."""
    last = min(max(1, math.ceil(total / page_size)), MAX_PAGE)
    wanted = sorted({1, last, *range(max(1, current - 1), min(last, current + 1) + 1)})
    out: list[int | None] = []
    for number in wanted:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out
