"""Transition: smoothed next-item probabilities by hand, higher orders, popularity back-off."""

from __future__ import annotations

import numpy as np
import pytest

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models import Transition


def data() -> InteractionData:
    sequences = ("012", "013", "02", "440")
    return InteractionData.from_sequences({f"u{k}": list(s) for k, s in enumerate(sequences)})


def test_probabilities_by_hand() -> None:
    d = data()
    model = Transition(smoothing=1.0).fit(d)
    idx = {i: d.items.index(str(i)) for i in range(5)}
    p = model.transition_probabilities(idx[0])
    assert p.sum() == pytest.approx(1.0, rel=1e-5)
    # 0 -> 1 twice, 0 -> 2 once; row total 3, smoothing 1, popularity prior pop(1) = 2/10.
    pop = model.item_popularity_ / model.item_popularity_.sum()
    assert p[idx[1]] == pytest.approx((2 + pop[idx[1]]) / 4, rel=1e-5)
    assert p[idx[2]] == pytest.approx((1 + pop[idx[2]]) / 4, rel=1e-5)
    # Repeats collapse: 4 -> 4 is not a transition, 4 -> 0 is.
    assert model.counts_[idx[4], idx[4]] == 0
    assert model.counts_[idx[4], idx[0]] == 1


def test_item_without_successor_backs_off_to_popularity() -> None:
    d = data()
    model = Transition().fit(d)
    p = model.transition_probabilities(d.items.index("3"))
    np.testing.assert_allclose(p, model.item_popularity_ / model.item_popularity_.sum())


def test_second_order_mixes_the_previous_item() -> None:
    d = data()
    first = Transition(order=1).fit(d)
    second = Transition(order=2, decay=0.5).fit(d)
    a = first.scores("x", history=["0", "2"])
    b = second.scores("x", history=["0", "2"])
    one = d.items.index("1")
    assert b[one] > a[one]  # 0 -> 1 is strong, and 0 is one step back


def test_bad_settings() -> None:
    with pytest.raises(ModelError, match="order"):
        Transition(order=0).fit(data())
