"""The ranker's held-out choices: what its click head learns beyond the prior."""

from __future__ import annotations

import numpy as np

from shopsense.ranking.ranker_select import choose_residual, choose_strength


def test_residual_level_known_answers() -> None:
    """Regression: the click head had all (wide and deep) or nothing beyond its prior; with
    few clicks the deep part did not pass the held-out test, so a plain linear effect was
    dropped with it. Now the linear head alone is a choice, and of the heads that pass,
    the lowest held-out loss wins (a first version kept the linear head whenever wide and
    deep did not beat *it*, and lost 0.008 AUC on the sample shop)."""
    rng = np.random.default_rng(0)
    base = 0.3 + rng.normal(0, 0.05, 4000)
    noise = rng.normal(0, 0.05, 4000)

    def level(linear: float, full: float) -> int:
        return choose_residual({0: base, 1: base - linear + noise, 2: base - full + noise})[0]

    assert level(0.0, 0.0) == 0  # neither beats the prior alone
    assert level(0.01, 0.0) == 1  # only the linear head does
    assert level(0.01, 0.012) == 2  # both do, wide + deep by more
    assert level(0.01, 0.008) == 1
    assert level(-0.01, 0.01) == 2
    kept, report = choose_residual({0: base, 1: base - 0.01 + noise, 2: base + noise})
    assert kept == 1 and report["residual"] == 1 and set(report["losses"]) == {"0", "1", "2"}
    assert report["gain_1"][0] > 2 * report["gain_1"][1]


def test_shrinkage_search_steps_past_the_end_of_the_grid() -> None:
    """Regression: the item-effect strength was the best of a fixed grid (2 to 128). On
    RecoGym's logs the weakest (clicks that disagree with browsing) or the strongest (clicks
    that follow it) won with the loss still falling, so the best lay beyond the grid."""
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.01, 5000)

    def search(optimum: float, extend: int = 2) -> tuple[float, list[float]]:
        def held(strength: float) -> np.ndarray:
            return 0.3 + 0.01 * (np.log(strength) - np.log(optimum)) ** 2 + noise

        chosen, losses = choose_strength(held, (2.0, 8.0, 32.0, 128.0), extend)
        return chosen, sorted(losses)

    assert search(8.0) == (8.0, [2.0, 8.0, 32.0, 128.0])  # inside: nothing more is tried
    assert search(512.0) == (512.0, [2.0, 8.0, 32.0, 128.0, 512.0, 2048.0])
    assert search(0.5) == (0.5, [0.125, 0.5, 2.0, 8.0, 32.0, 128.0])
    assert search(1e6) == (2048.0, [2.0, 8.0, 32.0, 128.0, 512.0, 2048.0])  # at most 2 steps
    assert search(1e6, extend=0)[1] == [2.0, 8.0, 32.0, 128.0]


def test_shrinkage_search_prefers_the_strongest_within_one_standard_error() -> None:
    rng = np.random.default_rng(2)
    base = 0.3 + rng.normal(0, 0.05, 4000)
    noise = rng.normal(0, 0.01, base.size)
    noise -= noise.mean()  # paired difference: mean exactly the step, se 0.01 / sqrt(4000)
    step = {2.0: 0.01, 8.0: 0.0, 32.0: 0.0001, 128.0: 0.01}  # 32 ties 8 within one se

    def held(strength: float) -> np.ndarray:
        return base + step[strength] + (noise if strength != 8.0 else 0.0)

    chosen, losses = choose_strength(held, (2.0, 8.0, 32.0, 128.0))
    assert chosen == 32.0 and sorted(losses) == [2.0, 8.0, 32.0, 128.0]
    fixed, only = choose_strength(lambda s: base, (5.0,))
    assert fixed == 5.0 and list(only) == [5.0]
