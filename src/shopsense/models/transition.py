"""Markov "last item -> next item" transitions, backed off to popularity.

Counts how often item ``j`` directly follows item ``i`` in the training sequences and
scores each candidate by the smoothed next-item probability given the shopper's last item::

    P(j | i) = (count(i -> j) + smoothing * pop(j)) / (count(i -> ·) + smoothing)

where ``pop`` is the training popularity normalised to sum 1. An item never seen with a
successor gets plain popularity, so every ranking is full. With ``order > 1`` the items
before the last one add their own transition rows, weighted ``decay ** k`` for the
``k``-th item back. A cheap, strong baseline on sequential shop data: "shoppers who
bought this next bought ..." (first-order, leave-one-out full ranking on Amazon Beauty:
test NDCG@10 ≈ 0.05, above ALS and close to SASRec).

Example::

    >>> model = Transition(order=2, decay=0.3).fit(data)              # doctest: +SKIP
    >>> model.recommend("new-shopper", history=["P00012", "P00450"])   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models.base import FloatArray, Histories, IntArray, Recommender


def consecutive_pairs(data: InteractionData) -> tuple[IntArray, IntArray]:
    """``(previous, next)`` item indices of every step in every user's sequence.

    Sequences are those of :meth:`InteractionData.sequence`: time order, consecutive
    repeats of one item collapsed (so no item follows itself).
    """
    user, item = data.log_user, data.log_item
    step = np.ones(user.size, dtype=bool)
    step[1:] = (user[1:] != user[:-1]) | (item[1:] != item[:-1])
    user, item = user[step], item[step]
    same_user = user[1:] == user[:-1]
    return item[:-1][same_user], item[1:][same_user]


@dataclasses.dataclass(eq=False)
class Transition(Recommender):
    """First- (or higher-, by decayed mixing) order Markov next-item model."""

    name: ClassVar[str] = "transition"

    # The defaults are the setting chosen on validation across the datasets we ship
    # (benchmarks/default_study.py, benchmarks/results/default_study.json).
    #: How many of the last items contribute their transition rows (1 = only the last).
    order: int = 3
    #: Weight of the ``k``-th item before the last: ``decay ** k``.
    decay: float = 0.706
    #: Pseudo-count of the popularity prior in each row (Dirichlet smoothing); larger values
    #: trust sparse rows less. 0 ranks unseen successors by popularity only as a tie-break.
    smoothing: float = 91.0

    counts_: sp.csr_matrix = dataclasses.field(init=False, repr=False)
    row_totals_: FloatArray = dataclasses.field(init=False, repr=False)
    prior_: FloatArray = dataclasses.field(init=False, repr=False)
    probabilities_: sp.csr_matrix = dataclasses.field(init=False, repr=False)

    def _check(self) -> None:
        if self.order < 1:
            raise ModelError(f"Transition order must be >= 1, got {self.order}")
        if self.smoothing < 0 or self.decay < 0:
            raise ModelError(
                f"Transition smoothing and decay must be >= 0, got {self.smoothing}, {self.decay}"
            )

    def _fit(self, data: InteractionData) -> None:
        self._check()
        previous, following = consecutive_pairs(data)
        n = data.n_items
        counts = sp.csr_matrix(
            (np.ones(previous.size, np.float32), (previous, following)), shape=(n, n)
        )
        counts.sum_duplicates()
        self.counts_ = counts
        self._derive()

    def _derive(self) -> None:
        """Row-normalised probabilities and the popularity prior from the counts."""
        self.row_totals_ = np.asarray(self.counts_.sum(axis=1), np.float32).ravel()
        total = float(self.item_popularity_.sum())
        n = self.item_popularity_.size
        self.prior_ = (
            self.item_popularity_ / total if total > 0 else np.full(n, 1.0 / max(n, 1))
        ).astype(np.float32)
        denominator = self.row_totals_ + np.float32(self.smoothing)
        scale = np.divide(
            1.0, denominator, out=np.zeros_like(denominator), where=denominator > 0
        ).astype(np.float32)
        self.probabilities_ = sp.diags(scale).dot(self.counts_).tocsr().astype(np.float32)

    def _prior_weight(self) -> FloatArray:
        """Share of each row that the popularity prior takes: 1 for items never followed."""
        total = self.row_totals_ + np.float32(self.smoothing)
        weight = np.divide(
            np.float32(self.smoothing), total, out=np.ones_like(total), where=total > 0
        )
        result: FloatArray = weight.astype(np.float32)
        return result

    def _context(self, histories: Histories) -> sp.csr_matrix:
        """CSR ``(b, n_items)``: weight of each shopper's recent items (last item: 1)."""
        rows: list[IntArray] = []
        cols: list[IntArray] = []
        vals: list[FloatArray] = []
        powers = np.power(np.float32(self.decay), np.arange(self.order, dtype=np.float32))
        for r, sequence in enumerate(histories.sequences):
            recent = np.asarray(sequence[::-1][: self.order], dtype=np.int64)
            rows.append(np.full(recent.size, r, np.int64))
            cols.append(recent)
            vals.append(powers[: recent.size])
        n = self.item_popularity_.size
        if not rows:
            return sp.csr_matrix((len(histories), n), dtype=np.float32)
        context = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(histories), n),
            dtype=np.float32,
        )
        context.sum_duplicates()
        return context

    def _score(self, histories: Histories) -> FloatArray:
        """``context @ P + (context @ prior_weight) ⊗ pop``; no sequence at all: pop."""
        context = self._context(histories)
        scores = np.asarray((context @ self.probabilities_).toarray(), dtype=np.float32)
        prior_mass = np.asarray(context @ self._prior_weight(), dtype=np.float32).ravel()
        prior_mass[np.diff(context.indptr) == 0] = 1.0
        scores += prior_mass[:, None] * self.prior_[None, :]
        return scores

    def _item_scores(self, item: int) -> FloatArray:
        row = np.asarray(self.probabilities_[item].toarray(), dtype=np.float32).ravel()
        scores: FloatArray = row + self._prior_weight()[item] * self.prior_
        return scores

    def transition_probabilities(self, item: int) -> FloatArray:
        """``P(next = j | last = item)`` for every item ``j``, shape ``(n_items,)`` (sums to 1)."""
        self._require_fit()
        return self._item_scores(item)

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        c = self.counts_
        return {
            "counts_data": c.data,
            "counts_indices": c.indices,
            "counts_indptr": c.indptr,
            "counts_shape": np.asarray(c.shape, np.int64),
        }

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        shape = tuple(int(x) for x in arrays["counts_shape"])
        self.counts_ = sp.csr_matrix(
            (arrays["counts_data"], arrays["counts_indices"], arrays["counts_indptr"]),
            shape=shape,
        )
        self._derive()
