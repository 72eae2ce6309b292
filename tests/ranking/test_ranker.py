"""The multi-task ranker on data whose right answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.errors import ModelError
from shopsense.models.ranker import MultiTaskRanker
from shopsense.ranking.training import roc_auc


def _impressions(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, ...]:
    """x0 drives clicks, x1 drives purchase given click, position lowers clicks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    position = rng.integers(0, 10, n)
    p_click = 1 / (1 + np.exp(-(x[:, 0] - 1.0 - 0.3 * position)))
    p_buy = 1 / (1 + np.exp(-(2.0 * x[:, 1] - 0.5)))
    click = (rng.random(n) < p_click).astype(np.int8)
    purchase = (click * (rng.random(n) < p_buy)).astype(np.int8)
    return x, position, click, purchase


def test_roc_auc_known_answer() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))


@pytest.mark.parametrize("bottom", ["shared", "mmoe"])
def test_esmm_learns_click_and_conversion(bottom: str) -> None:
    x, position, click, purchase = _impressions()
    ranker = MultiTaskRanker(bottom=bottom, epochs=5, hidden=16, experts=2, batch_size=128).fit(
        x, position, click, purchase
    )
    test_x, _, test_click, test_purchase = _impressions(3000, seed=1)
    scores = ranker.predict(test_x)
    clicked = test_click > 0
    assert roc_auc(test_click, scores.ctr) > 0.7
    assert roc_auc(test_purchase[clicked], scores.cvr[clicked]) > 0.6  # chance: 0.5
    assert np.allclose(scores.ctcvr, scores.ctr * scores.cvr)
    assert ranker.training_curve_[-1] < ranker.training_curve_[0]


def test_position_is_learned_in_training_and_neutral_at_serving() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 2)).astype(np.float32)
    position = rng.integers(0, 5, 5000)
    click = (rng.random(5000) < 0.4 * 0.5**position).astype(np.int8)  # position only
    ranker = MultiTaskRanker(epochs=5, hidden=8, batch_size=128).fit(
        x, position, click, np.zeros(5000)
    )
    bias = ranker.nets_[0].position_logit.weight.detach().numpy().ravel()
    assert bias[0] > bias[2] > bias[4]
    ctr = ranker.predict(x).ctr
    assert ctr.std() < 0.05  # the features say nothing about clicks


def test_objectives_and_modes(tmp_path: Path) -> None:
    x, position, click, purchase = _impressions(2000)
    single = MultiTaskRanker(mode="single", epochs=2, hidden=8).fit(x, position, click, purchase)
    click_only = MultiTaskRanker(mode="click", epochs=2, hidden=8).fit(x, position, click, purchase)
    assert len(single.nets_) == 2
    assert np.allclose(click_only.predict(x).cvr, click_only.predict(x).ctr)
    prices = np.where(np.arange(2000) == 7, 1e6, 1.0)
    assert single.rank(x, "revenue", prices)[0] == 7
    with pytest.raises(ModelError, match="prices"):
        single.rank(x, "revenue")
    single.save(tmp_path / "r")
    loaded = MultiTaskRanker.load(tmp_path / "r")
    assert np.allclose(loaded.predict(x).ctcvr, single.predict(x).ctcvr, atol=1e-6)


def test_refuses_bad_input() -> None:
    with pytest.raises(ModelError, match="mode"):
        MultiTaskRanker(mode="dcn").fit(np.zeros((2, 1)), [0, 0], [1, 0], [0, 0])
    with pytest.raises(ModelError, match="not fitted"):
        MultiTaskRanker().predict(np.zeros((2, 1)))
    with pytest.raises(ModelError, match="at least one click"):
        MultiTaskRanker().fit(np.zeros((2, 1)), [0, 0], [0, 0], [0, 0])
    x, position, click, purchase = _impressions(500)
    ranker = MultiTaskRanker(epochs=1, hidden=8).fit(x, position, click, purchase)
    with pytest.raises(ModelError, match="4 features"):
        ranker.predict(np.zeros((3, 2)))
