"""The multi-task ranker on data whose right answer is known."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.errors import ModelError
from shopsense.metrics import roc_auc
from shopsense.ranking import ranker_select
from shopsense.ranking.ranker import MultiTaskRanker, propensity_weights, sample_rows

NAMES = ["prior", "x1", "x2", "x3"]


def _impressions(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, ...]:
    """prior drives clicks, x1 drives carts, x2 purchases; position lowers clicks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    position = rng.integers(0, 10, n)
    p_click = 1 / (1 + np.exp(-(x[:, 0] - 1.0 - 0.3 * position)))
    p_cart = 1 / (1 + np.exp(-(2.0 * x[:, 1] - 0.5)))
    p_buy = 1 / (1 + np.exp(-(2.0 * x[:, 2])))
    click = (rng.random(n) < p_click).astype(np.int8)
    cart = (click * (rng.random(n) < p_cart)).astype(np.int8)
    purchase = (cart * (rng.random(n) < p_buy)).astype(np.int8)
    return x, position, click, cart, purchase


@pytest.fixture(scope="module")
def ranker() -> MultiTaskRanker:
    x, position, click, cart, purchase = _impressions()
    return MultiTaskRanker(hidden=16, max_epochs=15, prior_features=("prior",)).fit(
        x, position, click, cart, purchase, feature_names=NAMES
    )


def test_learns_click_cart_and_purchase(ranker: MultiTaskRanker) -> None:
    x, position, click, cart, purchase = _impressions(3000, seed=1)
    scores = ranker.predict(x, positions=position)
    assert roc_auc(click, scores.click) > 0.7
    clicked = click > 0
    assert roc_auc(cart[clicked], (scores.cart / scores.click)[clicked]) > 0.7
    carted = cart > 0
    assert roc_auc(purchase[carted], (scores.purchase / scores.cart)[carted]) > 0.65
    assert np.all(scores.purchase <= scores.cart) and np.all(scores.cart <= scores.click)
    assert ranker.validation_curve_[-1] <= ranker.validation_curve_[0]


def test_the_prior_is_monotone(ranker: MultiTaskRanker) -> None:
    x = np.zeros((50, 4), np.float32)
    x[:, 0] = np.linspace(-3, 3, 50)
    assert np.all(np.diff(ranker.predict(x).click) >= -1e-7)


def test_position_is_learned_in_training_and_neutral_at_serving() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 2)).astype(np.float32)
    position = rng.integers(0, 5, 5000)
    click = (rng.random(5000) < 0.4 * 0.5**position).astype(np.int8)  # position only
    model = MultiTaskRanker(tasks=("click",), hidden=8).fit(x, position, click)
    bias = model.net_.position_logit.detach().numpy()
    assert 0 > bias[1] > bias[3]  # position 0 is the reference
    at_top = model.predict(x).click
    assert at_top.std() < 0.05  # the features say nothing about clicks
    assert at_top.mean() == pytest.approx(0.4, abs=0.06)  # as if shown first
    assert model.predict(x, positions=np.full(5000, 4)).click.mean() < 0.1


def test_item_effects_learn_what_features_miss() -> None:
    """Item 3 is clicked far more than its features say: its effect is positive."""
    rng = np.random.default_rng(4)
    n = 8000
    items = rng.integers(0, 10, n)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    p = np.where(items == 3, 0.3, 0.05)
    click = (rng.random(n) < p).astype(np.int8)
    model = MultiTaskRanker(tasks=("click",), hidden=8, max_epochs=10).fit(
        x, np.zeros(n), click, items=items
    )
    effects = model.item_effects()
    assert int(np.argmax(effects)) == 3
    unseen = model.predict(x[:1], items=[99]).click  # a product it never saw: no effect
    assert 0.02 < float(unseen[0]) < 0.15


def test_a_click_rate_prior_carries_the_rate_without_item_effects() -> None:
    """A product's logged click rate (``ctr_logit``) named among ``prior_features`` reaches
    the click score through a monotone prior, with the item effects held at 0 and no
    residual term (the variant measured on RecoGym and the sample shop in BENCHMARKS.md,
    "The product's click rate as a monotone prior")."""
    rng = np.random.default_rng(5)
    names = ["blend.score_z", "ctr_logit", "price_z"]

    def rows(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 3)).astype(np.float32)
        p = 1 / (1 + np.exp(-(-3.0 + 0.3 * x[:, 0] + 1.0 * x[:, 1])))
        return x, (rng.random(n) < p).astype(np.int8)

    x, click = rows(8000)
    priors = ("blend.score_z", "*.log_prob", "click_affinity", "ctr_logit")
    model = MultiTaskRanker(
        tasks=("click",), hidden=8, residual="off", item_l2=1e6, prior_features=priors
    ).fit(x, np.zeros(x.shape[0]), click, feature_names=names)
    assert names.index("ctr_logit") in model.prior_indices_
    fresh, fresh_click = rows(4000)
    assert roc_auc(fresh_click, model.predict(fresh).click) > 0.7
    grid = np.zeros((40, 3), np.float32)
    grid[:, 1] = np.linspace(-3, 3, 40)
    assert np.all(np.diff(model.predict(grid).click) >= -1e-7)  # never reversed


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3000),
    click_share=st.floats(0.0, 1.0),
    cap=st.integers(2, 2000),
    seed=st.integers(0, 10),
)
def test_sampled_rows_stand_for_every_impression(
    n: int, click_share: float, cap: int, seed: int
) -> None:
    """Every row is kept up to the cap; beyond it, kept rows weigh 1 / rate, so each label's
    expected weighted count is its count in the log, and about ``cap`` rows are kept."""
    clicked = np.random.default_rng(seed).random(n) < click_share
    kept, rate = sample_rows(clicked, cap, np.random.default_rng(seed))
    if n <= cap:
        assert kept is None and rate.size == 0
        return
    assert kept is not None and kept.size == rate.size
    assert np.all(np.diff(kept) > 0) and np.all((rate > 0) & (rate <= 1))
    rates = {label: rate[clicked[kept] == label] for label in (True, False)}
    for label, chosen in rates.items():
        assert np.unique(chosen).size <= 1  # one rate per label
        if chosen.size and chosen[0] == 1.0:  # kept whole
            assert chosen.size == int((clicked == label).sum())
    if all(r.size for r in rates.values()):  # both labels kept: about ``cap`` rows expected
        expected = sum(float(r[0]) * int((clicked == label).sum()) for label, r in rates.items())
        assert expected == pytest.approx(cap)


def test_sampling_keeps_clicks_and_weighs_the_rest_back() -> None:
    """A log of 20,000 impressions with 5% clicks, capped at 4,000: every click is kept,
    unclicked ones at the rate that meets the cap; the click rate predicted stays the log's."""
    rng = np.random.default_rng(11)
    n = 20000
    x = rng.normal(size=(n, 2)).astype(np.float32)
    click = (rng.random(n) < 1 / (1 + np.exp(-(-3.2 + 0.8 * x[:, 0])))).astype(np.int8)
    kept, rate = sample_rows(click > 0, 4000, np.random.default_rng(0))
    assert kept is not None
    assert np.all(click[kept][rate == 1.0] == 1) and int(click[kept].sum()) == int(click.sum())
    assert kept.size == pytest.approx(4000, rel=0.05)
    model = MultiTaskRanker(tasks=("click",), hidden=8, max_epochs=10, max_rows=4000).fit(
        x, np.zeros(n), click, feature_names=["prior", "x1"]
    )
    rows = model.selection_["rows"]
    assert rows["logged"] == n and rows["learned_from"] == pytest.approx(4000, rel=0.05)
    test = rng.normal(size=(20000, 2)).astype(np.float32)
    truth = 1 / (1 + np.exp(-(-3.2 + 0.8 * test[:, 0])))
    assert model.predict(test).click.mean() == pytest.approx(truth.mean(), rel=0.15)
    everything = MultiTaskRanker(tasks=("click",), hidden=8, max_epochs=10, max_rows=None)
    assert everything.fit(x, np.zeros(n), click).selection_["rows"]["learned_from"] == n


def test_propensity_weights() -> None:
    w = propensity_weights([0.5, 0.1, np.nan, 0.001], max_weight=20.0)
    assert w.mean() == pytest.approx(1.0)
    raw = np.array([2.0, 10.0, 10.0, 20.0])  # NaN: the median of the known ones; clipped
    assert np.allclose(w, raw / raw.mean())


def test_objectives_and_round_trip(ranker: MultiTaskRanker, tmp_path: Path) -> None:
    x, *_ = _impressions(500, seed=2)
    prices = np.where(np.arange(500) == 7, 1e6, 1.0)
    assert ranker.rank(x, "revenue", prices)[0] == 7
    with pytest.raises(ModelError, match="prices"):
        ranker.rank(x, "revenue")
    with pytest.raises(ModelError, match="objective"):
        ranker.rank(x, "profit")  # type: ignore[arg-type]
    ranker.save(tmp_path / "r")
    loaded = MultiTaskRanker.load(tmp_path / "r")
    assert np.allclose(loaded.predict(x).purchase, ranker.predict(x).purchase, atol=1e-6)
    assert loaded.feature_names_ == NAMES and loaded.prior_indices_ == (0,)


def test_refuses_bad_input() -> None:
    with pytest.raises(ModelError, match="tasks"):
        MultiTaskRanker(tasks=("purchase",)).fit(np.zeros((2, 1)), [0, 0], [1, 0])
    with pytest.raises(ModelError, match="not fitted"):
        MultiTaskRanker().predict(np.zeros((1, 3)))
    with pytest.raises(ModelError, match="at least one click"):
        MultiTaskRanker().fit(np.zeros((3, 2)), [0, 0, 0], [0, 0, 0])
    with pytest.raises(ModelError, match="features"):
        MultiTaskRanker().fit(np.zeros((3, 2)), [0, 0], [1, 0, 0])


def test_serving_never_extrapolates_a_feature() -> None:
    """Regression: a shopper with a history shorter than any in training (a feature 5 sd
    outside its range) got p(click) of 1e-9 from a ranker whose clicks were 20%."""
    rng = np.random.default_rng(5)
    n = 4000
    history = rng.uniform(1.4, 1.8, n).astype(np.float32)  # a narrow training range
    x = np.stack([history, rng.normal(size=n).astype(np.float32)], axis=1)
    click = (rng.random(n) < 0.2 + 0.2 * (history - 1.6)).astype(np.int8)
    model = MultiTaskRanker(tasks=("click",), hidden=16, residual="on").fit(x, np.zeros(n), click)
    far = np.array([[0.1, 0.0], [9.0, 0.0]], np.float32)
    p = model.predict(far).click
    assert np.all((p > 0.05) & (p < 0.5))


def test_auto_residual_learns_a_linear_effect() -> None:
    rng = np.random.default_rng(7)
    n = 8000
    x = rng.normal(size=(n, 3)).astype(np.float32)
    click = (rng.random(n) < 1 / (1 + np.exp(-(-3.0 + 0.8 * x[:, 1])))).astype(np.int8)
    names = ["prior", "x1", "x2"]
    model = MultiTaskRanker(tasks=("click",), hidden=16, max_epochs=10, prior_features=("prior",))
    model = model.fit(x, np.zeros(n), click, feature_names=names)
    assert model.residual_ >= 1, model.selection_
    test = rng.normal(size=(2000, 3)).astype(np.float32)
    assert np.corrcoef(model.predict(test).click, test[:, 1])[0, 1] > 0.9
    # nothing but the base rate: nothing is kept beyond the prior
    flat = (rng.random(n) < 0.05).astype(np.int8)
    none = MultiTaskRanker(tasks=("click",), hidden=16, max_epochs=10, prior_features=("prior",))
    assert none.fit(x, np.zeros(n), flat, feature_names=names).residual_ == 0


def test_bundles_with_the_old_residual_flag_load(ranker: MultiTaskRanker, tmp_path: Path) -> None:
    import json

    ranker.save(tmp_path / "r")
    path = tmp_path / "r" / "model.json"
    meta = json.loads(path.read_text())
    assert meta["residual"] == ranker.residual_
    x, *_ = _impressions(200, seed=3)
    loaded = MultiTaskRanker.load(tmp_path / "r")
    assert np.allclose(loaded.predict(x).click, ranker.predict(x).click)
    # written before the linear level existed: true meant wide and deep, false neither
    for old, level in ((True, 2), (False, 0)):
        path.write_text(json.dumps(meta | {"residual": old}))
        assert MultiTaskRanker.load(tmp_path / "r").residual_ == level


def test_the_traced_serving_net_scores_as_the_network(ranker: MultiTaskRanker) -> None:
    """Serving runs a trace of the network (positions left out): the same probabilities,
    and a refitted network gets a new trace."""
    import torch

    x, *_ = _impressions(300, seed=4)
    items = np.arange(300) % 7
    standard = np.clip(
        (x - ranker.feature_mean_) / ranker.feature_scale_,
        ranker.feature_low_,
        ranker.feature_high_,
    ).astype(np.float32)
    with torch.no_grad():
        logits = ranker.net_(
            torch.from_numpy(standard), torch.from_numpy(ranker._items(items, 300)), None
        )
    want = torch.exp(torch.cumsum(torch.nn.functional.logsigmoid(logits), dim=1)).numpy()
    got = ranker.predict(x, items)
    np.testing.assert_allclose(got.click, want[:, 0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.purchase, want[:, 2], rtol=1e-5, atol=1e-7)
    before = ranker.net_
    try:  # a new network (a refit) is traced anew, not served from the old trace
        ranker.net_ = copy.deepcopy(before)
        with torch.no_grad():
            ranker.net_.wide.bias.add_(1.0)
        assert not np.allclose(ranker.predict(x, items).click, got.click)
    finally:
        ranker.net_ = before
    np.testing.assert_allclose(ranker.predict(x, items).click, got.click)


def test_chosen_settings_refit_without_searching_again() -> None:
    """The stack's final ranker fits with what the held-out report's ranker chose: the
    settings name the chosen level and strength, and a ranker given them trains one net."""
    rng = np.random.default_rng(7)
    n = 8000
    x = rng.normal(size=(n, 3)).astype(np.float32)
    click = (rng.random(n) < 1 / (1 + np.exp(-(-3.0 + 0.8 * x[:, 1])))).astype(np.int8)
    names = ["prior", "x1", "x2"]
    common = {"tasks": ("click",), "hidden": 16, "max_epochs": 10, "prior_features": ("prior",)}
    searched = MultiTaskRanker(**common).fit(x, np.zeros(n), click, feature_names=names)
    chosen = searched.chosen_settings()
    assert chosen["item_l2"] == searched.item_l2_
    assert str(chosen["item_l2"]) in searched.selection_["item_l2_losses"]
    assert {"off": 0, "linear": 1, "on": 2}[chosen["residual"]] == searched.residual_ >= 1
    calls = []
    real = ranker_select.train_net

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[-1])
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ranker_select, "train_net", counting)
        again = MultiTaskRanker(**common, **chosen).fit(x, np.zeros(n), click, feature_names=names)
    assert calls == [searched.residual_]  # one early-stopping run, then the final fit
    assert again.residual_ == searched.residual_ and again.item_l2_ == searched.item_l2_
    assert "item_l2_losses" not in again.selection_
    with pytest.raises(ModelError, match="residual"):
        MultiTaskRanker(residual="wide").fit(x, np.zeros(n), click)
