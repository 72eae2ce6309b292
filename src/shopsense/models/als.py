"""Implicit-feedback matrix factorisation by alternating least squares (``R_ij ≈ u_i·v_j``).

Training runs in the ``implicit`` library; event-kind weights (view < click < cart <
purchase) become confidences ``alpha * weight`` (``implicit``'s convention: the paper's
``1 + alpha * r`` without the 1), in training and in the fold-in alike.
:meth:`ALS.user_vector` recomputes one shopper's factors from fresh events without
retraining.

Example::

    >>> model = ALS(factors=64, iterations=15).fit(data)           # doctest: +SKIP
    >>> model.recommend("U0001", n=10)                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import (
    FloatArray,
    Histories,
    IntArray,
    Recommender,
    fold_in,
    rows_matrix,
)


@dataclasses.dataclass(eq=False)
class ALS(Recommender):
    """Weighted ALS (Hu, Koren & Volinsky 2008) through ``implicit``."""

    name: ClassVar[str] = "als"

    # The defaults are the setting chosen on validation across the datasets we ship
    # (benchmarks/default_study.py, benchmarks/results/default_study.json).
    factors: int = 221
    regularization: float = 0.00355
    alpha: float = 46.1
    iterations: int = 12
    #: Confidence from weights: "linear" (``alpha*w``) or "log" (``alpha*log1p(w)``).
    scaling: str = "log"
    random_state: int = 42

    user_factors_: FloatArray = dataclasses.field(init=False, repr=False)
    item_factors_: FloatArray = dataclasses.field(init=False, repr=False)
    gram_: npt.NDArray[np.float64] | None = dataclasses.field(init=False, repr=False, default=None)

    def half_precision_state(self) -> frozenset[str]:
        return frozenset({"user_factors_", "item_factors_"})

    def _confidence(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        scaled = matrix.astype(np.float32, copy=True)
        scaled.data = self._scaled(scaled.data)
        return scaled

    def _scaled(self, weights: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Interaction weights as ALS reads them (``log1p`` with ``scaling="log"``)."""
        if self.scaling not in ("linear", "log"):
            raise ModelError(f"ALS scaling must be 'linear' or 'log', got {self.scaling!r}")
        values = np.asarray(weights, np.float32)
        return np.log1p(values) if self.scaling == "log" else values

    def _fit(self, data: InteractionData) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit parallelises itself; a multi-threaded BLAS underneath only slows it.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
            )
            model.fit(self._confidence(data.matrix), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        # Rows without interactions keep their random initialisation: zero them so items
        # nobody touched score 0 instead of noise.
        self.item_factors_[np.diff(data.matrix.tocsc().indptr) == 0] = 0.0
        self.user_factors_[np.diff(data.matrix.indptr) == 0] = 0.0
        self.gram_ = None

    def _score(self, histories: Histories) -> FloatArray:
        if histories.fresh:
            vectors = (
                np.stack([self._fold_in(*histories.row(i)) for i in range(len(histories))])
                if len(histories)
                else np.zeros((0, self.factors), np.float32)
            )
        else:
            vectors = self.user_factors_[histories.users]
        scores: FloatArray = vectors @ self.item_factors_.T
        return scores

    def item_embeddings(self) -> FloatArray:
        return self.item_factors_

    def user_vector(self, item_ids: Sequence[str], weights: Sequence[float]) -> FloatArray:
        """Factors of a shopper with these (item, weight) interactions: one ALS half-step.

        Fresh events change recommendations without retraining. Unknown items are ignored.
        """
        self._require_fit()
        index = self.items_.indices(list(item_ids))
        known = index >= 0
        row = rows_matrix(
            [index[known]], [np.asarray(weights, np.float32)[known]], len(self.items_)
        )
        return self._fold_in(row.indices, row.data)

    def _fold_in(self, items: IntArray, weights: npt.NDArray[np.float32]) -> FloatArray:
        """The factors of one shopper with these engagements (:func:`fold_in`), with the
        confidences ``implicit`` trained on: ``alpha * weight`` (it adds no 1; a fold-in
        with ``1 + alpha * weight`` gave a trained shopper factors a median 60% away from
        their own on Beauty and Sports at the default alpha: benchmarks/als_fold_in.py)."""
        confidence = self.alpha * self._scaled(weights).astype(np.float64)
        return fold_in(self.item_factors_, self._gram(), items, confidence, self.regularization)

    def _gram(self) -> npt.NDArray[np.float64]:
        if self.gram_ is None:
            factors = self.item_factors_.astype(np.float64)
            self.gram_ = factors.T @ factors
        return self.gram_

    def scores_for_vector(self, vector: FloatArray) -> FloatArray:
        scores: FloatArray = self.item_factors_ @ vector
        return scores

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {"user_factors_": self.user_factors_, "item_factors_": self.item_factors_}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self.user_factors_ = arrays["user_factors_"]
        self.item_factors_ = arrays["item_factors_"]
        self.gram_ = None
