"""Offline ranking evaluation at the edges of the data."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import pytest

from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import leave_one_out
from shopsense.features.interactions import InteractionData
from shopsense.models import Popularity
from shopsense.models.base import FloatArray, Histories, Recommender


@pytest.mark.parametrize("exclude_history", [True, False])
def test_a_catalog_smaller_than_k_is_ranked_whole(exclude_history: bool) -> None:
    """Regression (issue 12): a shop of 5 products crashed `evaluate` and `train` with
    ``ValueError: kth(=19) out of bounds``; the whole catalog is now the list."""
    sequences = {f"u{u}": [f"p{(u + k) % 5}" for k in range(4)] for u in range(12)}
    split = leave_one_out(InteractionData.from_sequences(sequences))
    metrics = evaluate(Popularity(), split, "test", ks=(5, 10, 20))
    assert metrics["users"] == 12
    # every product is in the list at 5, so nothing more can be hit at 10 or 20
    assert metrics["HR@5"] == metrics["HR@10"] == metrics["HR@20"]
    assert 0 < metrics["Coverage@20"] <= 1


@dataclasses.dataclass(eq=False)
class FixedScores(Recommender):
    """Every shopper gets the same score per item: a ranking known in advance."""

    name: ClassVar[str] = "fixed"
    by_item: dict[str, float] = dataclasses.field(default_factory=dict)

    def _fit(self, data: InteractionData) -> None:
        pass

    def _score(self, histories: Histories) -> FloatArray:
        row = np.array([self.by_item[i] for i in self.items_.to_list()], np.float32)
        return np.tile(row, (len(histories), 1))


def test_rank_targets_by_hand() -> None:
    # scores a 5 > b 4 > d 3 > e 2 > c 1 > f 0; test input histories: u0 {a, b},
    # u1 {d, e}, u2 {a, c}; u3 has too few steps and is not ranked.
    sequences = {"u0": ["a", "b", "c"], "u1": ["d", "e", "a"], "u2": ["a", "c", "a"], "u3": ["f"]}
    split = leave_one_out(InteractionData.from_sequences(sequences))
    model = FixedScores(by_item={"a": 5, "b": 4, "c": 1, "d": 3, "e": 2, "f": 0})
    m = evaluate(model, split, "test", ks=(1, 3, 5))
    # history excluded: u0's c has d and e above it (rank 2), u1's a is first (rank 0),
    # u2's target a is in its own history: a miss
    assert m["users"] == 3
    assert m["HR@1"] == pytest.approx(1 / 3)
    assert m["HR@3"] == m["HR@5"] == m["Recall@3"] == pytest.approx(2 / 3)
    assert m["NDCG@1"] == pytest.approx(1 / 3)
    assert m["NDCG@3"] == m["NDCG@5"] == pytest.approx((1 / math.log2(4) + 1) / 3)
    assert m["MRR@3"] == m["MAP@3"] == pytest.approx((1 / 3 + 1) / 3)
    # history rankable: u0's c has a, b, d, e above it (rank 4), u2's a is first
    m = evaluate(model, split, "test", ks=(1, 3, 5), exclude_history=False)
    assert m["HR@3"] == pytest.approx(2 / 3) and m["HR@5"] == 1.0
    assert m["NDCG@5"] == pytest.approx((1 / math.log2(6) + 2) / 3)


def test_rank_targets_breaks_ties_at_random() -> None:
    """A model that scores everything alike lands the target in the middle, not first."""
    rng = np.random.default_rng(0)
    sequences = {
        f"u{u}": [f"i{j}" for j in rng.choice(12, size=3, replace=False)] for u in range(300)
    }
    split = leave_one_out(InteractionData.from_sequences(sequences))
    flat = FixedScores(by_item={f"i{j}": 1.0 for j in range(12)})
    m = evaluate(flat, split, "test", ks=(1, 5, 10), seed=3)
    # two history items excluded: the target takes one of 10 places, uniformly
    assert m["HR@10"] == 1.0
    assert m["HR@1"] == pytest.approx(0.1, abs=0.05)
    assert m["HR@5"] == pytest.approx(0.5, abs=0.1)
    expected = sum(1 / math.log2(r + 2) for r in range(10)) / 10
    assert m["NDCG@10"] == pytest.approx(expected, abs=0.03)
    assert evaluate(flat, split, "test", ks=(10,), seed=3)["NDCG@10"] == m["NDCG@10"]
