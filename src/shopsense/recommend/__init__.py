"""Recommendation scenarios over a loaded bundle: for you, session, similar, bought together,
trending; business rules (catalog, stock, filters, seen items) and explanations.

Example::

    >>> from shopsense.recommend import CatalogView, ModelSet, RecommendationEngine
    >>> models = ModelSet.load(bundle)                                          # doctest: +SKIP
    >>> engine = RecommendationEngine(models, CatalogView(products))            # doctest: +SKIP
    >>> engine.recommend("trending", "U1", n=3).items[0].reason                 # doctest: +SKIP
    'popular in Kitchen'
"""

from __future__ import annotations

from shopsense.recommend.catalog import CatalogView, ItemFilter
from shopsense.recommend.engine import (
    SCENARIOS,
    RecommendationEngine,
    Recommendations,
    Recommended,
    Scenario,
)
from shopsense.recommend.history import RecentEvents
from shopsense.recommend.models import ModelSet

__all__ = [
    "SCENARIOS",
    "CatalogView",
    "ItemFilter",
    "ModelSet",
    "RecentEvents",
    "RecommendationEngine",
    "Recommendations",
    "Recommended",
    "Scenario",
]
