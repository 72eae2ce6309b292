"""Bayesian personalised ranking (Rendle et al. 2009) through ``implicit``.

Matrix factorisation trained by stochastic gradient ascent on pairwise preferences: an
item the shopper touched should outscore a sampled one they did not. Scores are
``u_i·v_j + b_j`` (implicit keeps the item bias as the last factor). A shopper unseen in
training, or with fresh events, gets the mean of the item vectors they touched, which
ranks items the way item-item cosine on the learned factors would.

Example::

    >>> model = BPR(factors=64, iterations=100).fit(data)          # doctest: +SKIP
    >>> model.recommend("U0001", n=10)                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, Recommender, interaction_input


@dataclasses.dataclass(eq=False)
class BPR(Recommender):
    """BPR-MF through ``implicit`` (multi-threaded SGD with sampled negatives)."""

    name: ClassVar[str] = "bpr"

    factors: int = 64
    learning_rate: float = 0.05
    regularization: float = 0.001
    iterations: int = 100
    #: Skip sampled negatives the shopper actually has (slower, slightly better).
    verify_negative_samples: bool = True
    random_state: int = 42
    num_threads: int = 0

    user_factors_: FloatArray = dataclasses.field(init=False, repr=False)
    item_factors_: FloatArray = dataclasses.field(init=False, repr=False)

    def half_precision_state(self) -> frozenset[str]:
        return frozenset({"user_factors_", "item_factors_"})

    def _fit(self, data: InteractionData) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                verify_negative_samples=self.verify_negative_samples,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(interaction_input(data.matrix), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _user_vectors(self, histories: Histories) -> FloatArray:
        if not histories.fresh:
            known: FloatArray = self.user_factors_[histories.users]
            return known
        # implicit's user factors end in a constant 1 that multiplies the item bias.
        x = interaction_input(histories.matrix)
        counts = np.maximum(np.diff(x.indptr), 1).astype(np.float32)
        vectors: FloatArray = np.asarray(x @ self.item_factors_, np.float32) / counts[:, None]
        vectors[:, -1] = 1.0
        return vectors

    def _score(self, histories: Histories) -> FloatArray:
        scores: FloatArray = self._user_vectors(histories) @ self.item_factors_.T
        return scores

    def item_embeddings(self) -> FloatArray:
        """The item factors without their last column (the item bias)."""
        factors: FloatArray = self.item_factors_[:, :-1]
        return factors

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {"user_factors_": self.user_factors_, "item_factors_": self.item_factors_}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        self.user_factors_ = arrays["user_factors_"]
        self.item_factors_ = arrays["item_factors_"]
