"""Query understanding: price phrases, brand and colour words become filters.

"waterproof running shoes under 80" means "price <= 80": the price phrase leaves the
text and becomes a filter. Known brand names and colour words stay in the text (they help
ranking) and also become filters; the engine drops those two again when they would leave
no result, since a word that looks like a brand is sometimes just a word.

"dinnerware sets without mugs" means "dinnerware sets, and not the ones with mugs": the
negated words ("without", "not", "w/o", "except", "excluding", "minus", up to the next
"with" / "for" / "and" / ",") leave the text, so BM25 and the embedding stop rewarding
them, and are kept as ``excluded`` for the ranker, which demotes products that have them.
It is a soft signal, never a filter: "chair, no wheels" in a title is what the shopper wants.

Example::

    >>> parsed = parse_query("nike running shoes under $80", brands={"nike": "Nike"})
    >>> parsed.text, parsed.price_max, parsed.brands
    ('nike running shoes', 80.0, ('Nike',))
    >>> parse_query("futon frame without mattress").excluded
    ('mattress',)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NUMBER = r"\$?\s*(\d+(?:[.,]\d+)?)\s*(?:\$|dollars?|usd|eur|euros?|€|£)?"
_BETWEEN = re.compile(rf"\b(?:between|from)\s+{_NUMBER}\s*(?:and|to|-)\s*{_NUMBER}", re.I)
_RANGE = re.compile(r"(?<![\w.])\$\s*(\d+(?:\.\d+)?)\s*-\s*\$?\s*(\d+(?:\.\d+)?)\b", re.I)
_BELOW = r"under|below|less than|cheaper than|max(?:imum)?|up to|at most|within"
_MAX = re.compile(rf"(?:\b(?:{_BELOW})|<=?)\s*{_NUMBER}", re.I)
_MIN = re.compile(rf"(?:\b(?:over|above|more than|at least|min(?:imum)?)|>=?)\s*{_NUMBER}", re.I)
#: Negation cues and where their scope ends ("lights without wiring with switch").
NEGATIONS = ("without", "w/o", "not", "except", "excluding", "minus")
_NEGATION = re.compile(
    rf"(?:^|\s)(?:{'|'.join(map(re.escape, NEGATIONS))})\s+(.+?)"
    r"(?=\s+(?:with|for|and|or|in|on|but)\b|\s*[,;]|$)",
    re.I,
)
_FILLER = frozenset(("a", "an", "the", "any", "your", "my", "of", "to", "be", "is", "are"))

#: Colour words recognised in queries (lower case).
COLOURS = frozenset(
    (
        *("black", "white", "grey", "gray", "silver", "gold", "red", "blue", "navy", "green"),
        *("olive", "yellow", "orange", "pink", "purple", "brown", "beige", "tan", "khaki"),
        *("cream", "ivory", "teal", "turquoise", "burgundy", "maroon", "charcoal", "multicolor"),
    )
)


@dataclass(frozen=True)
class ParsedQuery:
    """What the engine understood: the text to match and the filters it implies."""

    original: str
    text: str
    price_min: float | None = None
    price_max: float | None = None
    brands: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    #: Words the shopper does not want ("without mugs" -> ``("mugs",)``), lower case.
    excluded: tuple[str, ...] = ()

    @property
    def notes(self) -> list[str]:
        """Human-readable filters, e.g. ``["price <= 80", "brand: Nike"]``."""
        notes = []
        if self.price_min is not None:
            notes.append(f"price >= {self.price_min:g}")
        if self.price_max is not None:
            notes.append(f"price <= {self.price_max:g}")
        notes += [f"brand: {b}" for b in self.brands]
        notes += [f"colour: {c}" for c in self.colours]
        if self.excluded:
            notes.append("without: " + " ".join(self.excluded))
        return notes


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def parse_query(
    query: str,
    brands: Mapping[str, str] | None = None,
    colours: frozenset[str] = COLOURS,
) -> ParsedQuery:
    """Split ``query`` into text and implied filters.

    ``brands`` maps lower-case brand names (one to three words) to their catalog spelling.
    """
    text = " ".join(query.split())
    price_min = price_max = None
    if match := _BETWEEN.search(text) or _RANGE.search(text):
        low, high = sorted((_number(match.group(1)), _number(match.group(2))))
        price_min, price_max = low, high
        text = text[: match.start()] + " " + text[match.end() :]
    else:
        if match := _MAX.search(text):
            price_max = _number(match.group(1))
            text = text[: match.start()] + " " + text[match.end() :]
        if match := _MIN.search(text):
            price_min = _number(match.group(1))
            text = text[: match.start()] + " " + text[match.end() :]
    text = " ".join(text.split())
    excluded: list[str] = []
    while match := _NEGATION.search(text):
        negated = [
            w for w in re.findall(r"\w+", match.group(1).lower()) if len(w) > 1 and w not in _FILLER
        ]
        if not negated or len(text[: match.start()].split()) == 0:
            break  # nothing left to search for ("not for kids" alone stays as typed)
        excluded += [w for w in negated if w not in excluded]
        text = " ".join((text[: match.start()] + " " + text[match.end() :]).split())
        text = re.sub(r"\s+([,;])", r"\1", text).strip(" ,;")
    tokens = re.findall(r"[\w'&.-]+", text.lower())
    found_brands: list[str] = []
    if brands:
        for size in (3, 2, 1):
            for i in range(len(tokens) - size + 1):
                name = " ".join(tokens[i : i + size])
                brand = brands.get(name)
                if brand is not None and brand not in found_brands:
                    found_brands.append(brand)
    found_colours = tuple(dict.fromkeys(t for t in tokens if t in colours))
    return ParsedQuery(
        original=query,
        text=text,
        price_min=price_min,
        price_max=price_max,
        brands=tuple(found_brands),
        colours=found_colours,
        excluded=tuple(excluded),
    )
