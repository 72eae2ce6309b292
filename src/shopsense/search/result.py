"""What a search returns: one page of hits, facet counts over all results, timing.

Example::

    >>> result = engine.search("running shoes under 80")   # doctest: +SKIP
    >>> result.items[0].id, result.items[0].explanation     # doctest: +SKIP
    ('P00042', "matches 'running', 'shoes' in the title; price <= 80")
    >>> result.to_dict()["facets"]["brand"][:2]            # doctest: +SKIP
    [['Northpass', 12], ['Stormline', 9]]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SearchHit:
    """One result: the product's id and display fields, its score and why it matched."""

    id: str
    score: float
    title: str
    brand: str | None
    category: str
    price: float | None
    in_stock: bool
    explanation: str
    lexical_score: float = 0.0
    semantic_score: float = 0.0
    #: With ``explain=True``: what placed it, piece by piece (see ``SearchEngine.search``).
    why: dict[str, Any] | None = None


@dataclass(frozen=True)
class SearchResult:
    """A page of results. ``total`` counts every result (lexical matches plus semantic
    neighbours above the similarity floor, after filters); ``facets`` count them all too.
    ``understood`` lists the filters read from the query ("price <= 80")."""

    query: str
    items: list[SearchHit]
    total: int
    page: int
    page_size: int
    sort: str
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    understood: list[str] = field(default_factory=list)
    personalized: bool = False
    reranked: bool = False
    took_ms: float = 0.0

    @property
    def ids(self) -> list[str]:
        return [hit.id for hit in self.items]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (facets as ``[[value, count], ...]``)."""
        data = asdict(self)
        data["facets"] = {k: [list(pair) for pair in v] for k, v in self.facets.items()}
        return data
