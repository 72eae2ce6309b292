"""Off-policy estimators on known answers and on a bandit whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from shopsense.evaluation.offpolicy import (
    Target,
    doubly_robust,
    estimates,
    ips,
    offpolicy_inputs,
    snips,
)


def test_known_answers() -> None:
    reward = np.array([[1.0, 0.0], [0.0, 1.0]])
    weight = np.array([[2.0, 0.0], [0.0, 4.0]])
    assert ips(reward, weight).value == pytest.approx((2 + 4) / 2)
    assert snips(reward, weight).value == pytest.approx(2 / 2 + 4 / 4)
    q = np.full((2, 2), 0.5)
    # DR: model value 0.5 + 0.5 per list plus the weighted residuals (2*0.5 and 4*0.5).
    assert doubly_robust(reward, weight, q, q).value == pytest.approx(1.0 + (1.0 + 2.0) / 2)


def test_target_probabilities() -> None:
    greedy = Target(np.array([3, 5]))
    assert greedy.probability(0, 3) == 1.0 and greedy.probability(1, 3) == 0.0
    exploring = Target(np.array([3, 5]), 0.2, np.array([7, 8]))
    assert exploring.probability(0, 3) == pytest.approx(0.8)
    assert exploring.probability(1, 8) == pytest.approx(0.1)
    assert exploring.probability(1, 9) == 0.0


def _bandit(n_lists: int, seed: int) -> tuple[list, list, list, np.ndarray]:  # type: ignore[type-arg]
    """6 items, lists of 2 by a uniformly random logger; slot 1 is seen half as often."""
    rng = np.random.default_rng(seed)
    appeal = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.6])
    items, propensity, clicks = [], [], []
    for _ in range(n_lists):
        shown = rng.permutation(6)[:2]
        items.append(shown)
        propensity.append(np.full(2, 1 / 6))
        clicks.append((rng.random(2) < appeal[shown] * np.array([1.0, 0.5])).astype(float))
    return items, propensity, clicks, appeal


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimates_cover_the_true_value(seed: int) -> None:
    """A greedy target showing items 5 then 4 earns 0.6 + 0.5 * 0.4 = 0.8 clicks per list;
    every estimator's 95% interval holds it (with a reward model for DR that is off)."""
    items, propensity, clicks, appeal = _bandit(20_000, seed)
    target = Target(np.array([5, 4]))

    def model(j: int, shown: np.ndarray, slots: np.ndarray) -> dict[str, np.ndarray]:
        return {"click": 0.8 * appeal[shown] * np.where(slots == 0, 1.0, 0.5)}  # biased by 20%

    inputs = offpolicy_inputs(items, propensity, {"click": clicks}, [target] * len(items), model)
    found = estimates(inputs, "click")
    assert set(found) == {"ips", "snips", "dr"}
    for name, estimate in found.items():
        low, high = estimate.ci95
        assert low <= 0.8 <= high, (name, estimate)
        assert estimate.se < 0.05
    assert found["dr"].se < found["ips"].se  # the model takes most of the variance
    logged = inputs.logged_value("click").value
    assert logged == pytest.approx(appeal.mean() * 1.5, abs=0.02)  # the random logger's own


def test_few_matching_lists_floor_the_standard_error() -> None:
    """Regression: two matching lists with no click gave SNIPS and IPS a standard error of
    0, an interval of [0, 0] for a slot whose truth the log cannot tell. Now at least that
    of an Agresti-Coull proportion over the effective number of lists (2 here)."""
    reward = np.zeros((1000, 1))
    weight = np.zeros((1000, 1))
    weight[[3, 7], 0] = 500.0  # two matches, logged with probability 1/500
    adjusted = (1.959964**2 / 2) / (2 + 1.959964**2)
    floor = np.sqrt(adjusted * (1 - adjusted) / (2 + 1.959964**2))
    found = snips(reward, weight)
    assert found.value == 0.0 and found.effective_lists == pytest.approx(2.0)
    assert found.se == pytest.approx(floor)
    assert ips(reward, weight).se == pytest.approx(floor)  # mean weight 1: the same floor
    assert found.as_dict()["effective_lists"] == pytest.approx(2.0)


def test_a_slot_the_candidate_fills_but_no_list_matched_is_not_known() -> None:
    items = [np.array([0, 1]), np.array([1, 2])]
    propensity = [np.full(2, 0.5), np.full(2, 0.5)]
    clicks = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    fills_both = offpolicy_inputs(
        items, propensity, {"click": clicks}, [Target(np.array([0, 5]))] * 2
    )
    fills_one = offpolicy_inputs(items, propensity, {"click": clicks}, [Target(np.array([0]))] * 2)
    both, one = estimates(fills_both, "click")["snips"], estimates(fills_one, "click")["snips"]
    assert both.value == one.value == pytest.approx(1.0)  # slot 1 matched nowhere: adds 0
    assert both.effective_lists == 0.0  # slot 1, filled and never matched
    assert one.effective_lists == pytest.approx(1.0)  # slot 0 only: one match
    unknown = np.sqrt(0.25 / 1.959964**2)  # a proportion known not at all, at slot 1
    assert both.se**2 == pytest.approx(one.se**2 + unknown**2)
