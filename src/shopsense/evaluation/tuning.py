"""Choosing hyper-parameters on validation data only.

:func:`tune_model` searches one model's hyper-parameters with Optuna (TPE, seeded) within a
:class:`Budget` of trials or time: every trial fits on ``split.train`` and is scored by
NDCG@10 on the validation targets (ties broken at random, as the test protocol does); the
test targets are never read. The first trial is the settings given (the defaults), so
tuning cannot return a setting that scored worse on validation. :data:`SPACES` holds what
is searched per model.

:func:`tune_weights` picks a hybrid's blend weights by coordinate ascent on validation
NDCG@10, with each component fitted once on ``split.train`` and its scores cached for a
sample of validation users.

Example::

    >>> Budget.parse("20m"), Budget.parse("30")
    (Budget(trials=None, seconds=1200.0), Budget(trials=30, seconds=None))
    >>> score = validation_score(split)                                # doctest: +SKIP
    >>> tuned = tune_model("ease", Budget.parse("10"), EASE, score)    # doctest: +SKIP
    >>> tuned.params, tuned.score                                      # doctest: +SKIP
    ({'l2': 212.7}, 0.0452)
    >>> names = ("transition", "sasrec")
    >>> models = {n: MODELS[n]().fit(split.train) for n in names}   # doctest: +SKIP
    >>> weights, trace = tune_weights(models, split)                 # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopsense.errors import ConfigError
from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import Split
from shopsense.metrics import single_target_metrics, target_ranks
from shopsense.models.base import Histories, Recommender
from shopsense.models.hybrid import normalise

#: What :func:`tune_model` searches, per model: ``(kind, ...)`` with kind ``"int"`` /
#: ``"float"`` (low, high, log scale) or ``"cat"`` (choices); an optional last element
#: ``(other, value)`` searches the parameter only when ``other`` took ``value``. Ranges
#: stay where a fit is affordable on a shop's CPU.
SPACES: dict[str, dict[str, tuple[Any, ...]]] = {
    "popularity": {"half_life_days": ("cat", [None, 7.0, 30.0, 180.0])},
    "repeat": {"decay": ("float", 0.3, 1.0, False)},
    "item_knn": {
        "neighbors": ("int", 20, 500, True),
        "similarity": ("cat", ["cosine", "asymmetric_cosine"]),
        "alpha": ("float", 0.1, 0.9, False, ("similarity", "asymmetric_cosine")),
        "shrink": ("float", 0.0, 100.0, False),
        "weighting": ("cat", ["none", "bm25"]),
    },
    "ease": {"l2": ("float", 1.0, 5000.0, True)},
    "transition": {
        "order": ("int", 1, 3, False),
        "decay": ("float", 0.1, 1.0, False),
        "smoothing": ("float", 0.1, 1000.0, True),
    },
    "als": {
        "factors": ("int", 16, 256, True),
        "regularization": ("float", 0.001, 10.0, True),
        "alpha": ("float", 0.5, 50.0, True),
        "iterations": ("int", 5, 30, False),
    },
    "bpr": {
        "factors": ("int", 16, 256, True),
        "learning_rate": ("float", 0.005, 0.2, True),
        "regularization": ("float", 1e-5, 0.1, True),
        "iterations": ("int", 20, 200, True),
    },
    "mult_dae": {
        "hidden": ("int", 64, 600, True),
        "dropout": ("float", 0.1, 0.7, False),
        "epochs": ("int", 10, 60, False),
        "learning_rate": ("float", 1e-4, 1e-2, True),
    },
    "sasrec": {
        "hidden": ("cat", [32, 64, 128]),
        "layers": ("int", 1, 3, False),
        "dropout": ("float", 0.1, 0.6, False),
        "learning_rate": ("float", 1e-4, 5e-3, True),
    },
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)$")


@dataclass(frozen=True)
class Budget:
    """How much tuning each model gets: a number of trials, or seconds (a trial under way
    when the time runs out finishes)."""

    trials: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``"30"``: 30 trials; ``"90s"``, ``"20m"``, ``"1h"``: that long."""
        value = text.strip().lower()
        if value.isdigit() and int(value) > 0:
            return cls(trials=int(value))
        match = _DURATION.match(value)
        if match and float(match.group(1)) > 0:
            unit = {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
            return cls(seconds=float(match.group(1)) * unit)
        raise ConfigError(
            f"a tuning budget is a number of trials (30) or a time (90s, 20m, 1h), got {text!r}"
        )


@dataclass
class Tuned:
    """What :func:`tune_model` found: the best ``params`` (the settings given, changed
    where tuning found better), their validation NDCG@10, every trial and the time taken."""

    params: dict[str, Any]
    score: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "valid_ndcg@10": self.score,
            "trials": self.trials,
            "seconds": round(self.seconds, 1),
        }


def tunable(name: str) -> bool:
    """Whether :data:`SPACES` searches model ``name``."""
    return bool(SPACES.get(name))


def _suggest(trial: Any, space: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, spec in space.items():
        kind, rest = spec[0], spec[1:]
        if rest and isinstance(rest[-1], tuple):
            other, wanted = rest[-1]
            rest = rest[:-1]
            if params.get(other) != wanted:
                continue
        if kind == "int":
            params[key] = trial.suggest_int(key, rest[0], rest[1], log=rest[2])
        elif kind == "float":
            params[key] = trial.suggest_float(key, rest[0], rest[1], log=rest[2])
        else:
            params[key] = trial.suggest_categorical(key, rest[0])
    return params


def validation_score(split: Split, seed: int = 0) -> Callable[[Recommender], float]:
    """The tuning objective of offline evaluation: fit on ``split.train``, NDCG@10 of the
    validation targets (the papers' protocol, :func:`~shopsense.evaluation.offline.evaluate`)."""

    def score(model: Recommender) -> float:
        return float(evaluate(model, split, "valid", ks=(10,), seed=seed)["NDCG@10"])

    return score


def tune_model(
    name: str,
    budget: Budget,
    make: Callable[..., Recommender],
    score: Callable[[Recommender], float],
    base: Mapping[str, Any] | None = None,
    seed: int = 0,
    on_trial: Callable[[int, float], None] | None = None,
) -> Tuned:
    """Search model ``name``'s :data:`SPACES` within ``budget`` (see the module
    docstring): ``make(**params)`` builds a model, ``score(model)`` fits it on training
    data and scores it on validation data only (:func:`validation_score`); ``base`` holds
    settings kept fixed unless searched, and the first trial's values of the searched ones
    (the model's defaults elsewhere)."""
    import optuna

    from shopsense.models import MODELS

    space = SPACES.get(name)
    if not space:
        raise ConfigError(f"no tuning search space for {name!r}; tunable: {', '.join(SPACES)}")
    base = dict(base or {})
    defaults = {
        key: p.default
        for key, p in inspect.signature(MODELS[name]).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    first = {k: base.get(k, defaults.get(k)) for k in space if k in base or k in defaults}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(first, skip_if_exists=True)
    began = time.perf_counter()

    def objective(trial: Any) -> float:
        params = {**base, **_suggest(trial, space)}
        value = score(make(**params))
        if on_trial is not None:
            on_trial(trial.number, value)
        return value if math.isfinite(value) else 0.0

    study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds)
    trials = [
        {"number": t.number, "params": t.params, "valid_ndcg@10": t.value}
        for t in study.trials
        if t.value is not None
    ]
    best = study.best_trial
    return Tuned(
        {**base, **best.params}, float(best.value or 0.0), trials, time.perf_counter() - began
    )


def tune_weights(
    models: Mapping[str, Recommender],
    split: Split,
    grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
    n_users: int = 3000,
    normalisation: str = "zscore",
    passes: int = 2,
    seed: int = 0,
) -> tuple[dict[str, float], list[tuple[dict[str, float], float]]]:
    """Blend weights maximising validation NDCG@10 (single-target protocols): coordinate
    ascent over ``grid``, starting from the best of equal weights and each model alone (so
    the blend never scores below its best model on validation).

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
    if len(names) > 1:  # each model alone too: the search starts from the best of these
        for name in names:
            alone = {n: float(n == name) for n in names}
            score = value(alone)
            if score > best:
                best, weights = score, alone
    for _ in range(passes):
        for name in names:
            for candidate in grid:
                trial = {**weights, name: float(candidate)}
                score = value(trial)
                if score > best:
                    best, weights = score, trial
    return weights, trace
