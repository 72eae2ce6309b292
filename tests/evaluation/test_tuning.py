"""tune_weights: validation-only search that finds the component that predicts the targets."""

from __future__ import annotations

import numpy as np

from shopsense.evaluation.split import leave_one_out
from shopsense.evaluation.tuning import tune_weights
from shopsense.features.interactions import InteractionData
from shopsense.models import Popularity, Transition


def test_the_sequential_signal_wins_weight() -> None:
    # Every shopper walks a fixed chain from a random start: "next item" is all that matters,
    # while popularity is flat. The tuned blend must keep the transition model,
    # and score far above popularity alone.
    rng = np.random.default_rng(0)
    sequences = {}
    for u in range(300):
        start = int(rng.integers(0, 40))
        sequences[f"u{u}"] = [f"i{(start + k) % 40}" for k in range(5)]
    split = leave_one_out(InteractionData.from_sequences(sequences))
    models = {
        "popularity": Popularity().fit(split.train),
        "transition": Transition().fit(split.train),
    }
    weights, trace = tune_weights(models, split, n_users=200)
    assert weights["transition"] > 0
    best = max(score for _, score in trace)
    only_popularity = [s for w, s in trace if w["transition"] == 0 and w["popularity"] > 0]
    assert best > 0.9 > max(only_popularity)
