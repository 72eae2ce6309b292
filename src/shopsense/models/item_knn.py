"""Item-based nearest neighbours: items similar to what the shopper already has.

The item-item similarity ``S`` comes from co-occurrence in the interaction matrix ``X``
(users × items), with ``c_ij = Σ_u x_ui x_uj`` and ``n_i = c_ii``:

- ``"cooccurrence"``: ``c_ij``
- ``"cosine"``: ``c_ij / (sqrt(n_i n_j) + shrink)``
- ``"asymmetric_cosine"``: ``c_ij / (n_i^alpha n_j^(1 - alpha) + shrink)`` (Aiolli 2013):
  ``alpha = 0.5`` is cosine, ``alpha = 1`` the conditional probability ``P(j | i)``.

Each item keeps only its ``neighbors`` most similar items (a sparse ``S``), and a shopper's
scores are ``history_row @ S``. ``weighting="idf"`` or ``"bm25"`` down-weights shoppers who
touch very many items before counting (as implicit's ``tfidf_weight`` / ``bm25_weight``).

"Bought together": fit on baskets instead of shoppers (one row per session, only cart and
purchase events) and :meth:`~Recommender.similar_items` answers "frequently bought with"::

    >>> baskets = InteractionData.from_events(                       # doctest: +SKIP
    ...     store.events.iter_batches(),
    ...     weights={EventKind.ADD_TO_CART: 1.0, EventKind.PURCHASE: 1.0},
    ...     group_by="session",
    ... )
    >>> together = ItemKNN(similarity="cooccurrence").fit(baskets)   # doctest: +SKIP
    >>> together.similar_items("P00012", n=5)                        # doctest: +SKIP

Example::

    >>> model = ItemKNN(neighbors=100, similarity="cosine").fit(data)   # doctest: +SKIP
    >>> model.recommend("U0001", n=10)                                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import (
    FloatArray,
    Histories,
    Recommender,
    interaction_input,
    sparse_product,
)

SIMILARITIES = ("cosine", "cooccurrence", "asymmetric_cosine")
WEIGHTINGS = ("none", "idf", "bm25")


def keep_top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest entries of each row of ``matrix`` (ties by lower column)."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    counts = np.diff(matrix.indptr)
    if k <= 0:
        return sp.csr_matrix(matrix.shape, dtype=matrix.dtype)
    if counts.max(initial=0) <= k:
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - np.repeat(matrix.indptr[:-1], counts)
    chosen = np.sort(order[rank < k])
    kept = np.minimum(counts, k)
    indptr = np.concatenate([[0], np.cumsum(kept)])
    return sp.csr_matrix((matrix.data[chosen], matrix.indices[chosen], indptr), shape=matrix.shape)


@dataclasses.dataclass(eq=False)
class ItemKNN(Recommender):
    """Item-item collaborative filtering with a pruned sparse similarity matrix."""

    name: ClassVar[str] = "item_knn"
    #: The popularity tie-break's ceiling (see ``_derive``): nothing co-occurred below it.
    no_evidence: ClassVar[float] = 1e-6

    # The defaults are the setting chosen on validation across the datasets we ship
    # (benchmarks/default_study.py, benchmarks/results/default_study.json).
    #: Most similar items each item keeps (0 = keep all).
    neighbors: int = 417
    similarity: str = "cosine"
    #: Exponent of the asymmetric cosine (0.5 = cosine).
    alpha: float = 0.5
    #: Added to the denominator: pulls similarities of rarely seen items towards 0.
    shrink: float = 43.7
    #: Per-shopper weighting before counting: "none", "idf" or "bm25".
    weighting: str = "none"
    #: BM25 saturation and item-length normalisation (implicit's defaults).
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    #: Count each (shopper, item) once; ``False`` uses the summed event weights.
    binary: bool = True

    similarity_: sp.csr_matrix = dataclasses.field(init=False, repr=False)
    tie_break_: FloatArray = dataclasses.field(init=False, repr=False)

    def half_precision_state(self) -> frozenset[str]:
        if self.similarity == "cooccurrence":
            return frozenset()  # co-occurrence counts
        return frozenset({"similarity_data"})

    def _check(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise ModelError(
                f"ItemKNN similarity must be one of {', '.join(SIMILARITIES)}, "
                f"got {self.similarity!r}"
            )
        if self.weighting not in WEIGHTINGS:
            raise ModelError(
                f"ItemKNN weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}"
            )

    def _input(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        return interaction_input(matrix, self.binary)

    def _weighted(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """``x`` weighted as implicit's ``tfidf_weight`` / ``bm25_weight`` do.

        Items are the documents and shoppers the terms: a shopper who touched many items
        says little about any one pair of them (IDF over shoppers); BM25 also saturates
        repeated interactions and normalises by each item's total.
        """
        if self.weighting == "none":
            return x
        per_user = np.log(max(x.shape[1], 1)) - np.log1p(np.diff(x.indptr).astype(np.float64))
        idf = np.repeat(per_user.clip(min=1e-6), np.diff(x.indptr))
        weighted = x.copy()
        if self.weighting == "idf":
            weighted.data = (np.sqrt(x.data) * idf).astype(np.float32)
            return weighted
        item_sums = np.asarray(x.sum(axis=0), np.float64).ravel()
        norm = (1.0 - self.bm25_b) + self.bm25_b * item_sums / max(item_sums.mean(), 1e-9)
        tf = x.data * (self.bm25_k1 + 1.0) / (self.bm25_k1 * norm[x.indices] + x.data)
        weighted.data = (tf * idf).astype(np.float32)
        return weighted

    def _fit(self, data: InteractionData) -> None:
        self._check()
        x = self._weighted(self._input(data.matrix))
        co = (x.T @ x).tocsr().astype(np.float32)
        norms = co.diagonal().astype(np.float64)
        co.setdiag(0.0)
        co.eliminate_zeros()
        if self.similarity != "cooccurrence":
            a = 0.5 if self.similarity == "cosine" else self.alpha
            rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
            denominator = np.power(norms[rows], a) * np.power(norms[co.indices], 1.0 - a)
            co.data = (co.data / (denominator + self.shrink + 1e-12)).astype(np.float32)
        self.similarity_ = keep_top_per_row(co, self.neighbors) if self.neighbors else co
        self._derive()

    def _derive(self) -> None:
        # A vanishing popularity term orders items no neighbour reaches, instead of ties.
        top = float(self.item_popularity_.max(initial=0.0))
        self.tie_break_ = (1e-6 * self.item_popularity_ / max(top, 1.0)).astype(np.float32)

    def _score(self, histories: Histories) -> FloatArray:
        """``history (b, n_items) @ S (n_items, n_items)`` as dense ``(b, n_items)``."""
        scores = sparse_product(self._input(histories.matrix), self.similarity_)
        scores += self.tie_break_[None, :]
        return scores

    def _item_scores(self, item: int) -> FloatArray:
        row = np.asarray(self.similarity_[item].toarray(), dtype=np.float32).ravel()
        scores: FloatArray = row + self.tie_break_
        return scores

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        s = self.similarity_
        return {
            "similarity_data": s.data,
            "similarity_indices": s.indices,
            "similarity_indptr": s.indptr,
            "similarity_shape": np.asarray(s.shape, np.int64),
        }

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        shape = tuple(int(x) for x in arrays["similarity_shape"])
        self.similarity_ = sp.csr_matrix(
            (
                arrays["similarity_data"],
                arrays["similarity_indices"],
                arrays["similarity_indptr"],
            ),
            shape=shape,
        )
        self._derive()
