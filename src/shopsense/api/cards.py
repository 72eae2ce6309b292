"""What a product card on the storefront shows: picture, title, price in its currency.

:func:`card` turns a served list item (``state.item_out``) or a search hit into the one
dict the ``card`` template macro reads; :func:`money` writes a price the way shoppers of
its currency read it; :func:`highlight` marks the query's words in a title.

Example::

    >>> money(1234.5, "EUR")
    '€1,234.50'
    >>> money(990, "JPY")
    '¥990'
    >>> money(12, "CHF")
    'CHF 12.00'
    >>> str(highlight("Trailmark trail running shoe", ["running", "shoes"]))
    'Trailmark trail <mark>running</mark> <mark>shoe</mark>'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from shopsense.api.pictures import picture_url
from shopsense.domain import Product

#: Currency symbols written before the amount; other currencies read "CHF 12.00".
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}
#: Currencies without minor units.
WHOLE = frozenset(("JPY", "KRW"))
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def money(amount: float, currency: str = "USD") -> str:
    """``amount`` in ``currency`` (an ISO 4217 code), with its symbol or code."""
    digits = 0 if currency in WHOLE else 2
    number = f"{amount:,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{currency} {number}"


def _matches(word: str, terms: Iterable[str]) -> bool:
    """Whether a title word is one of the query's terms, a plural or singular of one, or
    begins with one of at least three letters (what the shopper was typing)."""
    word = word.lower()
    for term in terms:
        if word == term or word.rstrip("s") == term.rstrip("s"):
            return True
        if len(term) >= 3 and word.startswith(term):
            return True
    return False


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """``text`` (escaped) with the words matching ``terms`` (lower case) in ``<mark>``."""
    terms = [t.lower() for t in terms if t]
    out: list[str] = []
    last = 0
    for found in _WORD.finditer(text):
        if not _matches(found.group(), terms):
            continue
        out.append(str(escape(text[last : found.start()])))
        out.append(f"<mark>{escape(found.group())}</mark>")
        last = found.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def query_terms(query: str) -> list[str]:
    """The words of a query, lower case (as :func:`highlight` takes them)."""
    return [w.lower() for w in _WORD.findall(query)]


def card(
    item: Mapping[str, Any], product: Product | None, terms: Iterable[str] = ()
) -> dict[str, Any]:
    """A card from a list item (``item_id``, ``title``, ``category``, ``price``,
    ``explanation``) and its catalog product (for the picture and the currency)."""
    currency = product.currency if product else "USD"
    price = item.get("price")
    return {
        "item_id": item["item_id"],
        "title": highlight(str(item["title"]), terms),
        "plain_title": item["title"],
        "category": item.get("category", ""),
        "brand": item.get("brand"),
        "price": money(price, currency) if price is not None else None,
        "in_stock": item.get("in_stock", True),
        "explanation": item.get("explanation", ""),
        "picture": picture_url(product) if product else None,
    }
