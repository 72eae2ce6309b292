"""Scenarios -> candidates -> business rules -> explanations.

One :class:`RecommendationEngine` answers every scenario from one :class:`ModelSet` and the
serving catalog. The shopper's fresh history (oldest first) is passed in, so an event the
API has just committed changes the next answer without retraining.

| scenario | candidates | explanation |
|---|---|---|
| ``for_you`` | the stack on the shopper's recent history | because you viewed X |
| ``session`` | the stack on the current session only | because you viewed X |
| ``similar`` | items most similar to an item (default: the last one seen) | similar to X |
| ``bought_together`` | co-occurrence in baskets with an item or the cart | often bought with X |
| ``trending`` | recency-decayed popularity | popular in Y |

The stack is retrieval -> the feedback ranker; it also re-orders the ``similar`` and
``bought_together`` candidates for the shopper.

The history is the shopper's recent events, impressions included: a product shown and not
clicked counts against it at once. Shoppers without history (unknown users) fall back to
trending; short lists are padded with trending items. Business rules: only catalog
products, in stock unless told otherwise, the filter's category / brand / price, and
products already engaged with only where re-consumption is allowed (learned per category,
or ``exclude_seen`` per request). Bundles without a stack (older ones) serve their
primary model.

Example::

    >>> engine = RecommendationEngine(ModelSet.load(bundle), CatalogView(items))  # doctest: +SKIP
    >>> engine.recommend("for_you", "U0001", history=events).items[0].reason  # doctest: +SKIP
    'because you viewed Stainless Steel Chef Knife'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.errors import ValidationError
from shopsense.features.idmap import IdMap
from shopsense.models.base import FloatArray, Recommendation, Recommender, top_k
from shopsense.ranking.ranker import Objective
from shopsense.ranking.stack import Stack
from shopsense.recommend import explain
from shopsense.recommend.catalog import CatalogView, ItemFilter, top_category
from shopsense.recommend.history import EventLike, current_session, history_triples, item_history
from shopsense.recommend.models import STACK, ModelSet
from shopsense.store.base import to_micros

Scenario = Literal["for_you", "similar", "bought_together", "trending", "session"]
SCENARIOS: tuple[str, ...] = get_args(Scenario)
_BASKET_KINDS = (EventKind.ADD_TO_CART, EventKind.PURCHASE)
#: The default rules: any catalog product in stock.
ANY_IN_STOCK = ItemFilter()


@dataclass(frozen=True)
class Recommended:
    """One recommended product and why it is shown."""

    item_id: str
    score: float
    reason: str


@dataclass(frozen=True)
class Recommendations:
    """A ranked list; ``strategy`` says what answered (``"trending"`` on a fallback)."""

    scenario: str
    strategy: str
    items: list[Recommended]
    bundle_id: str
    #: Where a sequence model (SASRec) answered, or scored the stack's candidates when asked
    #: (``attention=True``): how much each history item weighed in its next-item
    #: prediction, ``(item id, weight)`` largest first; empty otherwise.
    attention: tuple[tuple[str, float], ...] = ()


class RecommendationEngine:
    """Answers the scenarios of one model set (immutable: swap the engine to swap models)."""

    def __init__(
        self,
        models: ModelSet,
        catalog: CatalogView,
        weights: Mapping[EventKind, float] = DEFAULT_EVENT_WEIGHTS,
    ) -> None:
        self.models = models
        self.catalog = catalog
        self.weights = dict(weights)
        self._popular: tuple[IdMap, FloatArray] | None = None

    def recommend(
        self,
        scenario: Scenario,
        user_id: str,
        history: Sequence[EventLike] = (),
        n: int = 10,
        rules: ItemFilter = ANY_IN_STOCK,
        item_id: str | None = None,
        exclude_seen: bool | None = None,
        policy: str | None = None,
        objective: Objective | None = None,
        explained: int | None = None,
        attention: bool = False,
    ) -> Recommendations:
        """Top ``n`` for ``scenario``, best first; ``item_id`` anchors ``similar`` /
        ``bought_together``; ``objective`` (click, conversion, revenue) is what the
        stack's ranker orders for (default: the stack's own).

        ``explained``: only the first this many of the stack's list get their reason now
        (the rest ``""``; :meth:`explain` fills in those a caller shows). Explaining is a
        tenth of a ranked list's time, and an exploring caller shows few of its pool.

        ``exclude_seen``: ``None`` lets seen products come back where the learned
        re-consumption rule allows; ``True`` / ``False`` leaves them all out / in.
        ``policy`` names the bundle model that answers ``for_you`` (an A/B variant):
        ``"stack"`` or an unknown name means the stack.

        ``attention``: a stack list also carries the attention of its sequence source, if it
        has one (a list a sequence model answered alone always carries it: its reasons are
        drawn from it).
        """
        if scenario not in SCENARIOS:
            raise ValidationError("request", 0, "scenario", f"must be one of {SCENARIOS}")
        if item_id is not None and item_id not in self.catalog:
            raise ValidationError("request", 0, "item_id", f"unknown product id {item_id!r}")
        items, _ = item_history(history, self.weights)
        seen = set(items) if exclude_seen is not False else set()
        stack = self.models.stack
        chosen = self.models.models.get(policy or "") if policy != STACK else None
        if scenario in ("for_you", "session"):
            events = list(history) if scenario == "for_you" else current_session(history)
            s_items, s_weights = item_history(events, self.weights)
            if s_items and stack is not None and chosen is None:
                found, strategy = self._stacked(
                    events, s_items, n, rules, exclude_seen, objective, explained
                )
                done = self._finish(scenario, strategy, found, set(s_items), n, rules)
                if not attention or done.strategy == "trending":
                    return done
                return dataclasses.replace(done, attention=_attention(stack, s_items))
            if s_items:
                model = chosen or (
                    self.models.personal if scenario == "for_you" else self.models.session
                )
                attended = model.attended(s_items)
                found = self._personal(
                    model, user_id, events, s_items, s_weights, n, rules, seen, attended
                )
                done = self._finish(scenario, model.name, found, seen, n, rules)
                return dataclasses.replace(done, attention=tuple(attended or ()))
        if scenario == "similar":
            anchor = item_id or (items[-1] if items else None)
            if anchor is not None:
                found, known = self._similar(anchor, 3 * n, rules, seen)
                if known is None:  # no model knows anything of it: popular in its category
                    return self._finish("similar", "trending", [], seen, n, rules, anchor)
                found = self._reranked(history, found, objective)
                return self._finish("similar", known.name, found, seen, n, rules, anchor)
        if scenario == "bought_together":
            anchors = [item_id] if item_id else _basket(history) or items[-1:]
            if anchors:
                found = self._together(user_id, anchors, 3 * n, rules, seen)
                found = self._reranked(history, found, objective)
                return self._finish(
                    "bought_together", "bought_together", found, seen, n, rules, anchors[-1]
                )
        return self._finish(scenario, "trending", [], seen, n, rules)

    # --- the stack -----------------------------------------------------------------------
    def _stacked(
        self,
        events: Sequence[EventLike],
        items: list[str],
        n: int,
        rules: ItemFilter,
        exclude_seen: bool | None,
        objective: Objective | None,
        explained: int | None = None,
    ) -> tuple[list[Recommended], str]:
        """The stack's top ``n`` of its candidates, greedy: the API explores among them (its
        ``n`` includes the exploration pool) and logs the propensities of what it shows."""
        stack = self.models.stack
        assert stack is not None
        state = stack.state(history_triples(events))
        mask = stack.allowed(state, exclude_seen, base=self.catalog.mask(stack.item_map, rules))
        now = to_micros(events[-1].timestamp) if events else 0
        ranked = stack.rank(state, n, now, allowed=mask, objective=objective, exploration=0.0)
        ids = [stack.table.item_ids[i] for i in ranked.items]
        scores = ranked.scores.tolist()
        now_explained = len(ids) if explained is None else explained
        unexplained = [
            Recommended(i, s, "")
            for i, s in zip(ids[now_explained:], scores[now_explained:], strict=True)
        ]
        found = self._explained(events, items, ids[:now_explained], scores[:now_explained])
        return found + unexplained, ranked.strategy

    def explain(
        self, scenario: Scenario, history: Sequence[EventLike], found: Sequence[Recommended]
    ) -> list[Recommended]:
        """``found`` with a reason for each item :meth:`recommend` left unexplained (see its
        ``explained``), as that call would have given it."""
        missing = [r for r in found if not r.reason]
        if not missing:
            return list(found)
        events = list(history) if scenario == "for_you" else current_session(history)
        items, _ = item_history(events, self.weights)
        done = self._explained(
            events, items, [r.item_id for r in missing], [r.score for r in missing]
        )
        by_id = {r.item_id: r for r in done}
        return [r if r.reason else by_id[r.item_id] for r in found]

    def _reranked(
        self, history: Sequence[EventLike], found: list[Recommended], objective: Objective | None
    ) -> list[Recommended]:
        """``found`` in the stack's order for the shopper (as is without a ranker, or for a
        shopper the stack knows nothing about)."""
        stack = self.models.stack
        engaged = any(self.weights.get(e.kind, 0.0) > 0 for e in history)
        if stack is None or stack.ranker is None or len(found) < 2 or not engaged:
            return found  # nobody to personalise for: the similarity order stands
        rows = stack.table.indices([r.item_id for r in found])
        known = [r for r, i in zip(found, rows, strict=True) if i >= 0]
        if len(known) < 2:
            return found
        state = stack.state(history_triples(history))
        now = to_micros(history[-1].timestamp) if history else 0
        candidates = np.array([i for i in rows if i >= 0], np.int64)
        ranked = stack.rerank(state, candidates, now, objective=objective)
        by_row = {int(i): r for i, r in zip(candidates, known, strict=True)}
        order = [by_row[int(i)] for i in ranked.items]
        return order + [r for r, i in zip(found, rows, strict=True) if i < 0]

    def _explained(
        self, events: Sequence[EventLike], items: list[str], ids: list[str], scores: list[float]
    ) -> list[Recommended]:
        anchors = explain.closest_by_any(self.models.explainers(), items, ids)
        kinds = {e.item_id: e.kind for e in events if e.item_id is not None}
        out = []
        for rec, score, anchor in zip(ids, scores, anchors, strict=True):
            if anchor is None or anchor == rec:
                reason = (
                    explain.because(kinds.get(rec, EventKind.VIEW), self._title(rec))
                    if rec in kinds
                    else explain.popular_in(top_category(self.catalog.get(rec)))
                )
            else:
                reason = explain.because(kinds.get(anchor, EventKind.VIEW), self._title(anchor))
            out.append(Recommended(rec, float(score), reason))
        return out

    # --- candidates ----------------------------------------------------------------------
    def _personal(
        self,
        model: Recommender,
        user_id: str,
        events: Sequence[EventLike],
        items: list[str],
        weights: list[float],
        n: int,
        rules: ItemFilter,
        seen: set[str],
        attended: list[tuple[str, float]] | None = None,
    ) -> list[Recommended]:
        """``model``'s top ``n`` for the history, each explained by the history item it
        resembles most, or, for a model that attends (``attended``: SASRec's weights), by the
        item it attended to most (the next one for that item itself)."""
        mask = self.catalog.mask(model.items_, rules)
        if seen:
            mask = mask.copy()
            index = model.items_.indices(sorted(seen))
            mask[index[index >= 0]] = False
        ids, scores = _top_for_history(model, user_id, items, weights, mask, n)
        rec_ids = [str(i) for i in ids]
        explainers = self.models.explainers()
        if model.item_embeddings() is not None:
            explainers = [model, *(m for m in explainers if m is not model)]
        if attended:
            ranked = [item for item, _ in attended]
            anchors: list[str | None] = [
                next((a for a in ranked if a != rec), None) for rec in rec_ids
            ]
        else:
            anchors = explain.closest_by_any(explainers, items, rec_ids)
        kinds = {e.item_id: e.kind for e in events if e.item_id is not None}
        out = []
        for rec, score, anchor in zip(rec_ids, scores, anchors, strict=True):
            if anchor is None:
                reason = explain.popular_in(top_category(self.catalog.get(rec)))
            else:
                reason = explain.because(kinds.get(anchor, EventKind.VIEW), self._title(anchor))
            out.append(Recommended(rec, float(score), reason))
        return out

    def _similar(
        self, anchor: str, n: int, rules: ItemFilter, seen: set[str]
    ) -> tuple[list[Recommended], Recommender | None]:
        """Items similar to ``anchor`` by the first similarity model with evidence about
        it (the usual one, then others that know it, e.g. the item tower from its content),
        and that model; ``None`` when none has any."""
        reason = explain.similar_to(self._title(anchor))
        for model in self.models.similarity_models(anchor):
            mask = self.catalog.mask(model.items_, rules)
            ids, scores = model.similar_items(anchor, n=min(len(model.items_), 4 * n + 20))
            index = model.items_.indices([str(i) for i in ids])
            # A product the model saw no data for scores 0 (or its tie-break) everywhere:
            # an arbitrary list dressed up as neighbours
            keep = mask[index] & np.isfinite(scores) & (scores > model.no_evidence)
            out = [
                Recommended(str(i), float(s), reason)
                for i, s, k in zip(ids, scores, keep, strict=True)
                if k and str(i) not in seen
            ]
            if out:
                return out[:n], model
        return [], None

    def _together(
        self, user_id: str, anchors: list[str], n: int, rules: ItemFilter, seen: set[str]
    ) -> list[Recommended]:
        model = self.models.together
        if model is None:
            return []
        known = [a for a in anchors if a in model.items_]
        if not known:
            return []
        mask = self.catalog.mask(model.items_, rules)
        ids, scores = model.recommend(
            user_id, n=n + len(seen), exclude_seen=True, filter=mask, history=known
        )
        evidence = model.no_evidence  # below it: the popularity tie-break, not a basket
        rec_ids = [
            str(i) for i, s in zip(ids, scores, strict=True) if s > evidence and str(i) not in seen
        ]
        closest = explain.closest_history_items(model, known, rec_ids)
        score_of = {str(i): float(s) for i, s in zip(ids, scores, strict=True)}
        return [
            Recommended(rec, score_of[rec], explain.bought_with(self._title(anchor or known[-1])))
            for rec, anchor in zip(rec_ids, closest, strict=True)
        ][:n]

    def _trending(self, n: int, rules: ItemFilter, exclude: set[str]) -> list[Recommended]:
        model = self.models.trending
        mask = self.catalog.mask(model.items_, rules)
        if exclude:
            mask = mask.copy()
            index = model.items_.indices(sorted(exclude))
            mask[index[index >= 0]] = False
        if self._popular is None or self._popular[0] is not model.items_:
            # The same for every shopper: scored once per model (what a cold shopper gets).
            self._popular = (model.items_, model.scores("", history=[]))
        scores = np.where(mask, self._popular[1], -np.inf).astype(np.float32)
        best = top_k(scores, n)
        ids, scores = model.items_.ids(best), scores[best]
        return [
            Recommended(str(i), float(s), explain.popular_in(top_category(self.catalog.get(i))))
            for i, s in zip(ids, scores, strict=True)
        ]

    # --- rules and padding -----------------------------------------------------------------
    def _finish(
        self,
        scenario: str,
        strategy: str,
        found: list[Recommended],
        seen: set[str],
        n: int,
        rules: ItemFilter,
        anchor: str | None = None,
    ) -> Recommendations:
        """Rules applied, short lists padded with trending items: first those of
        ``anchor``'s top category (similar / bought together), then any."""
        if not found:
            strategy = "trending"
        for narrowed in ([self._in_category_of(anchor, rules)] if anchor else []) + [rules]:
            if len(found) < n:
                taken = seen | {r.item_id for r in found}
                found = found + self._trending(n - len(found), narrowed, taken)
        return Recommendations(scenario, strategy, found[:n], self.models.bundle_id)

    def _in_category_of(self, item_id: str, rules: ItemFilter) -> ItemFilter:
        """``rules`` narrowed to the top-level category of ``item_id`` (if none is set)."""
        category = top_category(self.catalog.get(item_id))
        if rules.category or not category:
            return rules
        return dataclasses.replace(rules, category=category)

    def _title(self, item_id: str) -> str:
        product = self.catalog.get(item_id)
        return product.title if product is not None else item_id

    def forget_digests(self, digests: AbstractSet[str], digest: Callable[[str], str]) -> set[str]:
        """Erase every shopper the models know whose ``digest(id)`` is a tombstone
        (``EventLog.forgotten``); returns their ids. Hashes each known shopper once."""
        if not digests:
            return set()
        known: set[str] = set()
        for model in self.models.models.values():
            if model.fitted:
                known.update(model.users_.to_list())
        found = {user_id for user_id in known if digest(user_id) in digests}
        for user_id in found:
            self.forget_user(user_id)
        return found

    def forget_user(self, user_id: str) -> None:
        """Erase what the models learned about one shopper (privacy deletion)."""
        for model in self.models.models.values():
            user = model.users_.get(user_id) if model.fitted else None
            factors = getattr(model, "user_factors_", None)
            # (the item tower's softmax objective keeps no per-user factors: an empty array)
            if user is not None and isinstance(factors, np.ndarray) and user < len(factors):
                if not factors.flags.writeable:
                    factors = factors.copy()
                    setattr(model, "user_factors_", factors)  # noqa: B010
                factors[user] = 0.0


def _top_for_history(
    model: Recommender,
    user_id: str,
    items: list[str],
    weights: list[float],
    mask: npt.NDArray[np.bool_],
    n: int,
) -> Recommendation:
    """``model.recommend`` on a fresh history, allowed items only.

    Models that fold a history into one vector (ALS: ``user_vector`` / ``scores_for_vector``,
    the same fold-in ``recommend`` runs) take a shorter path without the batch wrappers.
    """
    fold = getattr(model, "user_vector", None)
    score = getattr(model, "scores_for_vector", None)
    if fold is None or score is None or not (model.items_.indices(items) >= 0).any():
        return model.recommend(
            user_id, n=n, exclude_seen=False, filter=mask, history=items, weights=weights
        )
    scores = np.array(score(fold(items, weights)), dtype=np.float32)
    scores[~mask] = -np.inf
    best = top_k(scores, n)
    return model.items_.ids(best), scores[best]


def _attention(stack: Stack, items: list[str]) -> tuple[tuple[str, float], ...]:
    """The attention of the stack's first source that attends (SASRec), or none."""
    for model in stack.sources.models.values():
        weights = model.attended(items)
        if weights is not None:
            return tuple(weights)
    return ()


def _basket(history: Sequence[EventLike]) -> list[str]:
    """Items carted or bought in the latest session, oldest first."""
    session = current_session(history)
    return list(dict.fromkeys(e.item_id for e in session if e.kind in _BASKET_KINDS and e.item_id))
