"""Product search: lexical + semantic retrieval, fusion, filters, facets, LTR, personalization.

The public entry point is :class:`SearchEngine`::

    >>> from shopsense.search import SearchEngine, Filters
    >>> engine = SearchEngine.build(products)                       # doctest: +SKIP
    >>> result = engine.search("sofa grey 3 seater", user_id="U0042",
    ...                        filters=Filters(price_max=900))      # doctest: +SKIP
    >>> result.items[0].explanation                                 # doctest: +SKIP
"""

from shopsense.ranking.search_ranker import SearchRanker
from shopsense.search.engine import SORTS, SearchConfig, SearchEngine
from shopsense.search.filters import Filters
from shopsense.search.personalize import ModelAffinity
from shopsense.search.result import SearchHit, SearchResult

__all__ = [
    "SORTS",
    "Filters",
    "ModelAffinity",
    "SearchConfig",
    "SearchEngine",
    "SearchHit",
    "SearchRanker",
    "SearchResult",
]
