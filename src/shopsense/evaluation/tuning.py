"""Choosing hyper-parameters on validation data only.

:func:`tune_weights` picks a hybrid's blend weights by coordinate ascent on validation
NDCG@10, with each component fitted once on ``split.train`` and its scores cached for a
sample of validation users.

Example::

    >>> names = ("transition", "sasrec")
    >>> models = {n: MODELS[n]().fit(split.train) for n in names}   # doctest: +SKIP
    >>> weights, trace = tune_weights(models, split)                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shopsense.evaluation.split import Split
from shopsense.metrics import single_target_metrics, target_ranks
from shopsense.models.base import Histories, Recommender
from shopsense.models.hybrid import normalise


def tune_weights(
    models: Mapping[str, Recommender],
    split: Split,
    grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
    n_users: int = 3000,
    normalisation: str = "zscore",
    passes: int = 2,
    seed: int = 0,
) -> tuple[dict[str, float], list[tuple[dict[str, float], float]]]:
    """Blend weights maximising validation NDCG@10 (single-target protocols).

    ``models`` must be fitted on ``split.train``. Returns the best weights and the trace of
    every setting tried with its score. Score ties are broken at random as in the test
    protocol (:func:`~shopsense.metrics.target_ranks`), with the same draws for
    every setting tried.
    """
    users = split.users("valid")
    rng = np.random.default_rng(seed)
    if users.size > n_users:
        users = np.sort(rng.choice(users, size=n_users, replace=False))
    targets = split.valid_targets[users]
    if not np.all(np.diff(targets.indptr) == 1):
        raise ValueError("tune_weights needs one validation target per user (leave-one-out)")
    target_items = targets.indices.astype(np.int64)
    histories = Histories.from_data(split.train, users, fresh=False)
    rows = np.repeat(np.arange(users.size), np.diff(histories.matrix.indptr))
    cached = {}
    for name, model in models.items():
        scores = normalise(model.score(histories), normalisation)
        scores[rows, histories.matrix.indices] = -np.inf
        cached[name] = scores
    names = list(models)
    weights = dict.fromkeys(names, 1.0)
    trace: list[tuple[dict[str, float], float]] = []

    def value(w: dict[str, float]) -> float:
        if not any(w.values()):
            return -1.0
        blend = sum(w[n] * cached[n] for n in names if w[n])
        assert isinstance(blend, np.ndarray)
        ranks = target_ranks(blend, target_items, np.random.default_rng(seed))
        score = single_target_metrics(ranks, ks=(10,)).get("NDCG@10", 0.0)
        trace.append((dict(w), score))
        return score

    best = value(weights)
    for _ in range(passes):
        for name in names:
            for candidate in grid:
                trial = {**weights, name: float(candidate)}
                score = value(trial)
                if score > best:
                    best, weights = score, trial
    return weights, trace
