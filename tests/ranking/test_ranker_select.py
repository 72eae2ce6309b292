"""The ranker's held-out choices: what its click head learns beyond the prior."""

from __future__ import annotations

import numpy as np

from shopsense.ranking.ranker_select import choose_residual


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
