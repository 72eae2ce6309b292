"""A/B statistics: known answers for the tests and intervals, deterministic assignment."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.errors import ConfigError
from shopsense.evaluation.abtest import (
    UserOutcomes,
    analyze,
    assign_variant,
    bootstrap_mean_difference,
    bucket,
    mean_interval,
    ratio_difference_ztest,
    ratio_interval,
    rejection_rates,
    sample_ratio_mismatch,
    two_proportion_ztest,
    wilson_interval,
)
from shopsense.experiments import Experiment, Variant


def _experiment(weights: tuple[float, ...] = (1.0, 1.0), name: str = "exp") -> Experiment:
    return Experiment(
        name=name, variants=[Variant(name=f"v{i}", weight=w) for i, w in enumerate(weights)]
    )


def test_ztest_known_answer() -> None:
    # p1 = .12, p2 = .15, pooled .135: se = sqrt(.135 * .865 * 2 / 1000) = 0.0152824
    result = two_proportion_ztest(120, 1000, 150, 1000)
    assert result.difference == pytest.approx(0.03)
    assert result.statistic == pytest.approx(0.03 / math.sqrt(0.135 * 0.865 * 0.002))
    assert result.p_value == pytest.approx(0.049640, abs=1e-5)
    # unpooled CI: 0.03 +- 1.96 * sqrt(.12*.88/1000 + .15*.85/1000)
    half = 1.959964 * math.sqrt(0.12 * 0.88 / 1000 + 0.15 * 0.85 / 1000)
    assert result.ci95 == pytest.approx((0.03 - half, 0.03 + half), abs=1e-8)
    assert two_proportion_ztest(50, 500, 50, 500).p_value == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        two_proportion_ztest(0, 0, 1, 10)


def test_wilson_known_answer() -> None:
    assert wilson_interval(10, 100) == pytest.approx((0.055229, 0.174366), abs=1e-6)
    low, high = wilson_interval(0, 50)
    # 0 of n: the interval is [0, (z^2 / n) / (1 + z^2 / n)]
    assert low == 0.0
    assert high == pytest.approx(0.076829 / 1.076829, abs=1e-6)


def test_mean_and_ratio_intervals() -> None:
    low, high = mean_interval([1.0, 2.0, 3.0, 4.0])
    half = 1.959964 * np.std([1, 2, 3, 4], ddof=1) / 2
    assert (low, high) == pytest.approx((2.5 - half, 2.5 + half))
    # every unit with the same ratio: no uncertainty left
    assert ratio_interval([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]) == pytest.approx((0.1, 0.1))


def test_srm() -> None:
    assert sample_ratio_mismatch([5000, 5000], [1, 1]) == pytest.approx(1.0)
    assert sample_ratio_mismatch([5200, 4800], [1, 1]) == pytest.approx(6.334e-5, rel=1e-3)
    assert sample_ratio_mismatch([9000, 1000], [90, 10]) == pytest.approx(1.0)


def test_bootstrap_detects_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    a = rng.exponential(10.0, 2000)
    assert bootstrap_mean_difference(a, a + 3.0, resamples=500).p_value < 0.01
    same = bootstrap_mean_difference(a[:1000], a[1000:], resamples=500)
    assert same.ci95[0] < 0 < same.ci95[1]


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(min_size=1, max_size=20),
    weights=st.lists(st.floats(0.1, 10.0), min_size=2, max_size=5),
)
def test_assignment_is_deterministic_and_valid(user: str, weights: list[float]) -> None:
    experiment = _experiment(tuple(weights))
    first = assign_variant(experiment, user)
    assert first == assign_variant(experiment, user)
    assert first in experiment.variant_names
    assert 0.0 <= bucket("salt", user) < 1.0


def test_assignment_follows_the_split_and_salts_are_independent() -> None:
    users = [f"U{i:05d}" for i in range(20000)]
    experiment = _experiment((80.0, 20.0))
    share = np.mean([assign_variant(experiment, u) == "v0" for u in users])
    assert share == pytest.approx(0.8, abs=0.01)
    other = _experiment((1.0, 1.0), name="other")
    a = np.array([assign_variant(_experiment(), u) == "v0" for u in users])
    b = np.array([assign_variant(other, u) == "v0" for u in users])
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03


def test_analyze_finds_a_real_difference_and_reports_srm() -> None:
    rng = np.random.default_rng(1)
    users = [f"U{i}" for i in range(6000)]
    experiment = _experiment()
    treated = np.array([assign_variant(experiment, u) == "v1" for u in users])
    purchases = (rng.random(6000) < np.where(treated, 0.15, 0.10)).astype(float)
    outcomes = UserOutcomes(users, np.full(6000, 10.0), purchases * 2, purchases, purchases * 30.0)
    report = analyze(experiment, outcomes, resamples=300)
    assert report.srm_ok
    assert report.conversion_tests["v1"].significant
    assert report.revenue_tests["v1"].difference > 0
    rates = {v.name: v.conversion_rate for v in report.variants}
    assert rates["v1"] > rates["v0"]
    assert report.ctr_tests["v1"].significant and report.ctr_tests["v1"].difference > 0


def test_ratio_ztest_known_answer() -> None:
    # control: clicks (1, 3) of (10, 10): ratio .2, residuals (-1, 1), var 2, se^2 = 2*2/400
    # treatment: (2, 6) of (10, 10): ratio .4, residuals (-2, 2), var 8, se^2 = 8*2/400
    result = ratio_difference_ztest([1.0, 3.0], [10.0, 10.0], [2.0, 6.0], [10.0, 10.0])
    se = math.sqrt(4 / 400 + 16 / 400)
    assert result.difference == pytest.approx(0.2)
    assert result.statistic == pytest.approx(0.2 / se)
    assert result.ci95 == pytest.approx((0.2 - 1.959964 * se, 0.2 + 1.959964 * se), abs=1e-6)
    # no impressions anywhere: nothing to test, not a rejection
    assert ratio_difference_ztest([0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]).p_value == 1.0


def test_rejection_rates_of_calibrated_tests() -> None:
    """A/A on synthetic users: every test rejects near 5% (Wilson CI over 300 runs)."""
    rng = np.random.default_rng(7)
    users = [f"U{i}" for i in range(800)]
    reports = []
    for run in range(300):
        experiment = Experiment(
            name="aa", salt=f"aa-{run}", variants=[Variant(name="a"), Variant(name="b")]
        )
        shown = rng.integers(5, 30, 800).astype(float)
        clicks = rng.binomial(shown.astype(int), 0.05).astype(float)
        purchases = (rng.random(800) < 0.08).astype(float)
        revenue = purchases * rng.exponential(40.0, 800)
        outcomes = UserOutcomes(users, shown, clicks, purchases, revenue)
        reports.append(analyze(experiment, outcomes, resamples=200))
    rates = rejection_rates(reports)
    for name in ("conversion", "ctr", "revenue"):
        low, high = rates[name].ci95
        assert rates[name].runs == 300 and low < 0.05 < high, (name, rates[name])
    assert rates["srm"].rejections <= 2
    assert rejection_rates([])["ctr"].rate == 0.0
