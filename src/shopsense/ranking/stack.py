"""The full stack: candidates from several retrieval models, re-ranked by the multi-task ranker.

Each retrieval model scores every item for the shopper's current history (fresh events
included, so a click a second ago changes the next list); the union of each model's top
``per_source`` items are the candidates; :class:`~shopsense.ranking.features.FeatureBuilder`
turns them into rows and :class:`~shopsense.models.ranker.MultiTaskRanker` orders them for
the requested objective (clicks, conversions or expected revenue).

Example::

    >>> sources = RetrievalSources({"als": als, "sasrec": sasrec, "popularity": pop})
    >>> stack = FullStack(sources, builder, ranker)                        # doctest: +SKIP
    >>> items = stack.recommend(state, n=10, now_us=now)                  # (10,) item indices
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.models.base import Histories, Recommender
from shopsense.models.ranker import MultiTaskRanker, Objective
from shopsense.ranking.features import FeatureBuilder, FloatArray, IntArray, ShopperState


@dataclass(frozen=True)
class RetrievalSources:
    """Named retrieval models whose item indices all follow the same item table."""

    models: Mapping[str, Recommender]

    def __post_init__(self) -> None:
        sizes = {name: len(model.items_) for name, model in self.models.items()}
        if len(set(sizes.values())) > 1:
            raise ModelError(
                f"retrieval models disagree on the number of items {sizes}; build every "
                "model's InteractionData with items=<the catalog's ids>"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    @property
    def n_items(self) -> int:
        return len(next(iter(self.models.values())).items_)

    def scores(self, state: ShopperState) -> dict[str, FloatArray]:
        """Every model's score of every item ``(n_items,)`` for the shopper's history."""
        return {name: block[0] for name, block in self.scores_batch([state]).items()}

    def scores_batch(self, states: Sequence[ShopperState]) -> dict[str, FloatArray]:
        """Every model's scores ``(b, n_items)`` for ``b`` shoppers at once."""
        histories = histories_of(states, self.n_items)
        return {name: model.score(histories) for name, model in self.models.items()}


def histories_of(states: Sequence[ShopperState], n_items: int) -> Histories:
    """The shoppers' current histories as one :class:`Histories` batch (unknown users)."""
    items = [np.asarray(s.items, np.int64) for s in states]
    rows = np.repeat(np.arange(len(states)), [i.size for i in items])
    weights = np.concatenate(
        [np.asarray(s.weights, np.float32) for s in states] or [np.empty(0, np.float32)]
    )
    columns = np.concatenate(items) if items else np.empty(0, np.int64)
    matrix = sp.csr_matrix(
        (weights.astype(np.float32), (rows, columns)), shape=(len(states), n_items)
    )
    matrix.sum_duplicates()
    sequences = []
    for sequence in items:
        keep = np.ones(sequence.size, dtype=bool)
        keep[1:] = sequence[1:] != sequence[:-1]
        sequences.append(sequence[keep])
    return Histories(np.full(len(states), -1, np.int64), matrix, sequences, fresh=True)


def candidate_items(
    scores: Mapping[str, FloatArray], per_source: int, allowed: npt.NDArray[np.bool_]
) -> IntArray:
    """Union of each source's top ``per_source`` allowed items (first-seen order)."""
    picked: list[IntArray] = []
    for values in scores.values():
        masked = np.where(allowed, values, -np.inf)
        finite = int(np.isfinite(masked).sum())
        k = min(per_source, finite)
        if k <= 0:
            continue
        top = np.argpartition(-masked, k - 1)[:k]
        picked.append(top[np.argsort(-masked[top], kind="stable")].astype(np.int64))
    if not picked:
        return np.empty(0, np.int64)
    merged = np.concatenate(picked)
    _, first = np.unique(merged, return_index=True)
    return merged[np.sort(first)]


@dataclass
class FullStack:
    """Retrieval sources -> candidates -> features -> multi-task ranker."""

    sources: RetrievalSources
    builder: FeatureBuilder
    ranker: MultiTaskRanker
    per_source: int = 50
    objective: Objective = "conversions"

    def recommend(
        self,
        state: ShopperState,
        n: int,
        now_us: int,
        allowed: npt.NDArray[np.bool_] | None = None,
        query: str | None = None,
    ) -> IntArray:
        """The ``n`` best item indices for the shopper, best first.

        ``allowed``: ``(n_items,)`` mask of items that may be shown (default: in stock and
        not already in the shopper's history).
        """
        scores = self.sources.scores(state)
        if allowed is None:
            allowed = self.builder.table.in_stock.copy()
            allowed[np.asarray(state.items, np.int64)] = False
        candidates = candidate_items(scores, self.per_source, allowed)
        if candidates.size == 0:
            return candidates
        rows = self.builder.build(state, candidates, scores, now_us, query)
        prices = self.builder.table.price[candidates]
        order = self.ranker.rank(rows, self.objective, prices)
        return candidates[order[:n]]

    def recommend_batch(
        self,
        states: Sequence[ShopperState],
        n: int,
        now_us: Sequence[int],
        allowed: Sequence[npt.NDArray[np.bool_]],
    ) -> list[IntArray]:
        """:meth:`recommend` for ``b`` shoppers at once (retrieval scored as one batch)."""
        block = self.sources.scores_batch(states)
        out: list[IntArray] = []
        for row, state in enumerate(states):
            scores = {name: values[row] for name, values in block.items()}
            candidates = candidate_items(scores, self.per_source, allowed[row])
            if candidates.size == 0:
                out.append(candidates)
                continue
            features = self.builder.build(state, candidates, scores, now_us[row])
            prices = self.builder.table.price[candidates]
            out.append(candidates[self.ranker.rank(features, self.objective, prices)[:n]])
        return out

    def rerank(
        self,
        state: ShopperState,
        candidates: IntArray,
        now_us: int,
        query: str | None = None,
    ) -> IntArray:
        """Re-order given candidates (e.g. search results) ``(k,)`` for the shopper."""
        if candidates.size == 0:
            return candidates
        scores = self.sources.scores(state)
        rows = self.builder.build(state, candidates, scores, now_us, query)
        order = self.ranker.rank(rows, self.objective, self.builder.table.price[candidates])
        return candidates[order]
