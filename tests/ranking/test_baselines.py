"""The ranker's baselines on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from shopsense.metrics import roc_auc
from shopsense.ranking.baselines import ItemClickRate, LogisticRanker


def test_item_rate_shrinks_towards_the_overall_rate() -> None:
    items = np.array([0] * 10 + [1] * 1000)
    clicks = np.array([1] * 10 + [0] * 990 + [1] * 10)
    rate = ItemClickRate(prior=20.0).fit(items, clicks, n_items=3)
    overall = (20 + 0.5) / (1010 + 1)
    assert rate.rate_[0] == pytest.approx((10 + 20 * overall) / 30)  # 10 of 10: pulled down
    assert rate.rate_[1] == pytest.approx((10 + 20 * overall) / 1020)
    assert rate.predict([2, 7]).tolist() == pytest.approx([overall, overall])


def test_logistic_regression_recovers_a_linear_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    position = rng.integers(0, 5, 4000)
    p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2.0 - 0.5 * position)))
    y = (rng.random(4000) < p).astype(int)
    model = LogisticRanker(l2=0.1).fit(x, position, y)
    assert roc_auc(y, model.predict(x, position)) > 0.75
    assert model.coef_[1] / model.scale_[0] == pytest.approx(1.5, abs=0.3)  # per raw unit
    assert model.predict(x[:1], [4])[0] < model.predict(x[:1])[0]  # lower slots click less
