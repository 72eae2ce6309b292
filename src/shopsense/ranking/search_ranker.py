"""Learning to rank search results: LightGBM lambdarank over query-product feature rows.

Trained from graded judgments, one group per query: integer grades ``0..G`` (for ESCI:
I=0, C=1, S=2, E=3) with ``label_gain`` giving each grade's NDCG gain (ESCI's published
gains are 0, 0.01, 0.1, 1). Saved as LightGBM's text model plus a JSON of parameters.

Example::

    >>> ranker = SearchRanker(n_estimators=100)
    >>> ranker = ranker.fit([x_query1, x_query2], [y1, y2], FEATURES)  # doctest: +SKIP
    >>> scores = ranker.predict(x_new)                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from shopsense.errors import ConfigError, ModelError


@dataclass
class SearchRanker:
    """LightGBM lambdarank; hyper-parameters are the fields, ``booster_`` the learned model."""

    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 3
    min_child_samples: int = 30
    feature_fraction: float = 0.8
    label_gain: tuple[float, ...] | None = None
    seed: int = 0
    booster_: Any = field(init=False, default=None, repr=False)
    #: The names of the feature columns it was trained on, in order.
    features_: tuple[str, ...] = field(init=False, default=(), repr=False)

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "lambdarank",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambdarank_truncation_level": 20,
            "eval_at": [10],
            "num_threads": 1,
            "seed": self.seed,
            "deterministic": True,
            "verbosity": -1,
        }
        if self.label_gain is not None:
            params["label_gain"] = list(self.label_gain)
        return params

    def fit(
        self,
        features: Sequence[npt.NDArray[np.float32]],
        grades: Sequence[npt.NDArray[np.integer[Any]]],
        feature_names: Sequence[str],
    ) -> Self:
        """Learn from one ``(n_q, d)`` matrix and ``(n_q,)`` grades per query; the ``d``
        columns are named by ``feature_names``."""
        import lightgbm

        if not features or len(features) != len(grades):
            raise ConfigError("the ranker needs judged queries: one grade array per feature matrix")
        x = np.vstack(features)
        y = np.concatenate([np.asarray(g, np.int32) for g in grades])
        if x.shape[1] != len(feature_names):
            raise ConfigError(
                f"expected {len(feature_names)} features per row (one per name), got {x.shape[1]}"
            )
        if y.min() < 0:
            raise ConfigError("relevance grades must be integers >= 0")
        groups = [len(g) for g in grades]
        data = lightgbm.Dataset(x, y, group=groups, feature_name=list(feature_names))
        self.booster_ = lightgbm.train(self._params(), data, num_boost_round=self.n_estimators)
        self.features_ = tuple(feature_names)
        return self

    def predict(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores for a ``(n, d)`` matrix of the trained features; higher is more relevant."""
        self._check(features)
        if len(features) == 0:
            return np.empty(0, np.float32)
        return np.asarray(self.booster_.predict(features, num_threads=1), np.float32)

    def contributions(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Each feature's share of each row's score, ``(n, d + 1)``: LightGBM's per-feature
        contributions (SHAP values of the trees), the last column the expected score; a
        row sums to its :meth:`predict` score."""
        self._check(features)
        if len(features) == 0:
            return np.empty((0, len(self.features_) + 1), np.float32)
        parts = self.booster_.predict(features, num_threads=1, pred_contrib=True)
        return np.asarray(parts, np.float32)

    def _check(self, features: npt.NDArray[np.float32]) -> None:
        if self.booster_ is None:
            raise ModelError("the search ranker is not trained; call fit() or load() first")
        if len(features) and features.shape[1] != len(self.features_):
            raise ModelError(
                f"the search ranker was trained on {len(self.features_)} features, got "
                f"{features.shape[1]}; retrain it"
            )

    def feature_importance(self) -> dict[str, float]:
        """Total gain per feature, for reports."""
        if self.booster_ is None:
            raise ModelError("the search ranker is not trained")
        gains = self.booster_.feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(self.features_, gains, strict=True)}

    def save(self, directory: Path) -> None:
        if self.booster_ is None:
            raise ModelError("cannot save an untrained search ranker")
        directory.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(directory / "ranker.txt"))
        params = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        params["features"] = list(self.features_)
        (directory / "ranker.json").write_text(json.dumps(params, indent=1))

    @classmethod
    def load(cls, directory: Path, features: Sequence[str] | None = None) -> SearchRanker:
        """Read a saved ranker; with ``features``, refuse one trained on other columns."""
        import lightgbm

        try:
            params = json.loads((directory / "ranker.json").read_text())
            trained_on = tuple(params.pop("features"))
            if features is not None and trained_on != tuple(features):
                raise ModelError(
                    f"the ranker in {directory} was trained on other features; retrain it"
                )
            if params.get("label_gain") is not None:
                params["label_gain"] = tuple(params["label_gain"])
            ranker = cls(**params)
            ranker.booster_ = lightgbm.Booster(model_file=str(directory / "ranker.txt"))
            ranker.features_ = trained_on
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"cannot read the search ranker in {directory}: {exc}") from exc
        return ranker
