"""Which model of a bundle answers each scenario, and how, in words: one description for
the dashboard and for ``shopsense train``'s summary.

It follows :class:`~shopsense.recommend.engine.RecommendationEngine` for a shopper with a
history (:meth:`ModelSet.scenario_models` names the models); shoppers without one get
trending products in every scenario (``new_shopper``).

Example::

    >>> [(row.scenario, row.model) for row in answering(models)][:2]  # doctest: +SKIP
    [('for_you', 'stack'), ('session', 'stack')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopsense.recommend.models import ModelSet


@dataclass(frozen=True)
class ScenarioModel:
    """One scenario: the bundle's model answering it (``model``: its name in the bundle,
    ``"stack"`` for the stack; ``kind``: what it is) and ``how`` it answers."""

    scenario: str
    model: str
    kind: str
    how: str


def _why_no_ranker(report: dict[str, Any]) -> str:
    if report.get("engine", {}).get("name") == "spark":
        return "no feedback ranker: the Spark engine trains none, the local engine does"
    return "no feedback ranker yet: too few logged clicks"


def answering(models: ModelSet) -> list[ScenarioModel]:
    """The scenarios in the engine's order, then ``new_shopper``."""
    stack = models.stack
    ranked = stack is not None and stack.ranker is not None
    reranked = ", re-ranked for the shopper by the stack's feedback ranker" if ranked else ""
    if stack is not None:
        blend = ", ".join(f"{name} ×{weight:g}" for name, weight in stack.blend.items())
        ordered = (
            f"ordered by its feedback ranker (objective: {stack.config.objective})"
            if ranked
            else f"ordered by the blend ({_why_no_ranker(stack.report)})"
        )
        personal = f"candidates from {blend}, {ordered}"
    else:
        personal = "scores the shopper's recent history"
    how = {
        "for_you": personal,
        "session": "the same on the current session's events only",
        "similar": "item-item similarity"
        + reranked
        + "; a product it has no data about: the next similarity model that has (the item"
        " tower, by content), else trending in its category",
        "bought_together": (
            "co-occurrence in carts and orders with the item or the cart" + reranked
            if models.together is not None
            else "no basket model in this bundle: trending items"
        ),
        "trending": "popularity, recent events weighing more",
    }
    rows = []
    names = models.scenario_models()
    for scenario, name in names.items():
        model = models.models.get(name)
        kind = model.name if model is not None else f"stack, {stack.strategy}" if stack else name
        rows.append(ScenarioModel(scenario, name, kind, how[scenario]))
    trending = names["trending"]
    rows.append(ScenarioModel("new_shopper", trending, trending, "no history yet: trending"))
    return rows
