"""How well a feedback ranker predicts held-out impressions, next to its baselines.

For each task (click, add-to-cart, purchase: each the probability over all impressions)
the ranker, a smoothed per-item rate and a logistic regression on the same feature rows
(:mod:`shopsense.ranking.baselines`) are trained on the same rows and scored on the same
held-out rows, at the positions the impressions were shown in: ROC AUC, log-loss, the
expected calibration error and the reliability curve (10 equal-mass bins).

Example::

    >>> report = feedback_report(train_rows, test_rows, n_items=len(table))  # doctest: +SKIP
    >>> report["tasks"]["click"]["ranker"]["auc"]                            # doctest: +SKIP
    0.71
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.metrics import expected_calibration_error, log_loss, reliability, roc_auc
from shopsense.ranking.baselines import ItemClickRate, LogisticRanker
from shopsense.ranking.logged import LoggedRows
from shopsense.ranking.ranker import TASKS, MultiTaskRanker, propensity_weights

#: Fewest positives a task needs in both parts to be scored.
MIN_POSITIVES = 5


def scores_of(labels: npt.ArrayLike, predicted: npt.ArrayLike) -> dict[str, Any]:
    """AUC, log-loss, ECE and the reliability curve of ``(n,)`` predictions."""
    return {
        "auc": roc_auc(labels, predicted),
        "log_loss": log_loss(labels, predicted),
        "ece": expected_calibration_error(labels, predicted),
        "reliability": [
            {"predicted": p, "observed": o, "rows": n} for p, o, n in reliability(labels, predicted)
        ],
    }


def feedback_report(
    train: LoggedRows, test: LoggedRows, n_items: int, ranker: MultiTaskRanker
) -> dict[str, Any]:
    """Fit both baselines on ``train`` (which ``ranker`` was fitted on); score all three on
    ``test`` at the positions its impressions were shown in."""
    model = ranker
    weights = propensity_weights(train.propensity, model.max_weight)
    predicted = model.predict(test.features, test.item, test.position)
    out: dict[str, Any] = {
        "rows": {
            "train": len(train),
            "test": len(test),
            **{f"train_{t}": int(train.label(t).sum()) for t in TASKS},
            **{f"test_{t}": int(test.label(t).sum()) for t in TASKS},
        },
        "tasks": {},
    }
    for task in TASKS:
        y_train, y_test = train.label(task), test.label(task)
        if min(y_train.sum(), y_test.sum()) < MIN_POSITIVES or y_test.sum() == y_test.size:
            continue
        item = ItemClickRate().fit(train.item, y_train, n_items, weights).predict(test.item)
        logistic = LogisticRanker().fit(train.features, train.position, y_train, weights)
        out["tasks"][task] = {
            "ranker": scores_of(y_test, predicted.task(task)),
            "item_rate": scores_of(y_test, item),
            "logistic": scores_of(y_test, logistic.predict(test.features, test.position)),
            "base_rate": float(y_test.mean()),
        }
    return out


def split_by_user(rows: LoggedRows, share: float, seed: int) -> tuple[LoggedRows, LoggedRows]:
    """``(train, test)``: the impressions of a random ``share`` of the shoppers are held out."""
    users = np.unique(rows.user)
    rng = np.random.default_rng(seed)
    held = rng.choice(users, size=max(round(users.size * share), 1), replace=False)
    test = np.isin(rows.user, held)
    return rows.select(~test), rows.select(test)
