"""The baselines a feedback ranker must beat on held-out impressions.

- :class:`ItemClickRate`: each item's click-through rate in the training impressions,
  shrunk towards the overall rate (a beta prior worth ``prior`` impressions);
- :class:`LogisticRanker`: L2-regularised logistic regression on the ranker's own feature
  rows plus one indicator per shown position (fitted by L-BFGS).

Both predict probabilities for one label at a time (click, cart or purchase) and, like the
ranker, take the impressions' propensities as inverse-propensity weights.

Example::

    >>> rate = ItemClickRate().fit([0, 0, 1, 1, 1], [1, 0, 0, 0, 0], n_items=2)
    >>> rate.predict([0, 1]).round(2)        # 1 of 2 and 0 of 3 clicks, shrunk to 1 of 5
    array([0.27, 0.22])
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])                  # (n, n_features)
    >>> logistic = LogisticRanker().fit(x, [0, 1, 0, 1], [0, 0, 1, 1])
    >>> logistic.predict(x).argsort().tolist()   # (n,) probabilities at the top position
    [0, 1, 2, 3]
"""

from __future__ import annotations

import dataclasses
from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit

from shopsense.errors import ModelError

FloatArray = npt.NDArray[np.float64]


@dataclasses.dataclass
class ItemClickRate:
    """Smoothed per-item rate of a label among an item's impressions."""

    prior: float = 20.0

    rate_: FloatArray = dataclasses.field(init=False, repr=False)
    base_: float = dataclasses.field(init=False, repr=False, default=0.5)

    def fit(
        self,
        items: npt.ArrayLike,
        labels: npt.ArrayLike,
        n_items: int,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        item = np.asarray(items, np.int64)
        y = np.asarray(labels, np.float64)
        w = np.ones(y.size) if weights is None else np.asarray(weights, np.float64)
        base = (float((w * y).sum()) + 0.5) / (float(w.sum()) + 1.0)
        hits = np.bincount(item, weights=w * y, minlength=n_items)
        trials = np.bincount(item, weights=w, minlength=n_items)
        self.rate_ = (hits + self.prior * base) / (trials + self.prior)
        self.base_ = base
        return self

    def predict(self, items: npt.ArrayLike) -> FloatArray:
        if not hasattr(self, "rate_"):
            raise ModelError("ItemClickRate is not fitted")
        item = np.asarray(items, np.int64)
        inside = (item >= 0) & (item < self.rate_.size)
        out: FloatArray = np.full(item.size, self.base_)
        out[inside] = self.rate_[item[inside]]
        return out


@dataclasses.dataclass
class LogisticRanker:
    """Logistic regression on standardised features + position indicators."""

    l2: float = 1.0
    n_positions: int = 20
    max_iterations: int = 500

    mean_: FloatArray = dataclasses.field(init=False, repr=False)
    scale_: FloatArray = dataclasses.field(init=False, repr=False)
    coef_: FloatArray = dataclasses.field(init=False, repr=False)

    def _design(self, features: npt.ArrayLike, positions: npt.ArrayLike | None) -> FloatArray:
        x = (np.asarray(features, np.float64) - self.mean_) / self.scale_
        slots = np.zeros((x.shape[0], self.n_positions - 1))
        if positions is not None:
            pos = np.clip(np.asarray(positions, np.int64), 0, self.n_positions - 1)
            rows = np.flatnonzero(pos > 0)
            slots[rows, pos[rows] - 1] = 1.0  # position 0 is the reference
        return np.hstack([np.ones((x.shape[0], 1)), x, slots])

    def fit(
        self,
        features: npt.ArrayLike,
        positions: npt.ArrayLike,
        labels: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        x = np.asarray(features, np.float64)
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0) + 1e-6
        design = self._design(x, positions)
        y = np.asarray(labels, np.float64)
        w = np.ones(y.size) if weights is None else np.asarray(weights, np.float64)
        w = w / w.mean()
        penalty = np.full(design.shape[1], self.l2)
        penalty[0] = 0.0  # the intercept is not shrunk

        def loss(beta: FloatArray) -> tuple[float, FloatArray]:
            z = design @ beta
            # log(1 + e^z) - y z, computed stably
            value = float(
                (w * (np.logaddexp(0.0, z) - y * z)).sum() + 0.5 * (penalty * beta**2).sum()
            )
            gradient = design.T @ (w * (expit(z) - y)) + penalty * beta
            return value, gradient

        start = np.zeros(design.shape[1])
        rate = np.clip((w * y).sum() / w.sum(), 1e-4, 1 - 1e-4)
        start[0] = np.log(rate / (1 - rate))
        found = minimize(
            loss, start, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iterations}
        )
        self.coef_ = found.x
        return self

    def predict(
        self, features: npt.ArrayLike, positions: npt.ArrayLike | None = None
    ) -> FloatArray:
        """Probabilities ``(n,)`` at the given positions (default: the top one)."""
        if not hasattr(self, "coef_"):
            raise ModelError("LogisticRanker is not fitted")
        result: FloatArray = expit(self._design(features, positions) @ self.coef_)
        return result
