"""A/B experiments while serving: assignment per shopper, and live results.

Experiments come from ``SHOPSENSE_EXPERIMENTS_FILE`` (default ``<data dir>/experiments.toml``
or ``.json``; format in :mod:`shopsense.experiments`). The first experiment's variants pick
the model that answers "for you" (``policy`` = a model name in the serving bundle, e.g.
``als`` vs ``item_tower``); every list says which variant served it. Results come from the
stored events (impressions, clicks, purchases, revenue per shopper) through
:func:`shopsense.evaluation.abtest.analyze`: per-variant CTR, conversion, revenue with 95 %
intervals, tests against the control and a sample-ratio-mismatch check.

Example::

    >>> experiments = Experiments.from_settings(settings, config)   # doctest: +SKIP
    >>> experiments.assign("U0042")                                 # doctest: +SKIP
    ('als-vs-tower', 'treatment', 'item_tower')
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from shopsense.api.analytics import HasEvents, user_outcomes
from shopsense.config import Settings
from shopsense.evaluation.abtest import UserOutcomes, analyze, assign_variant
from shopsense.experiments import Experiment, load_experiments


@dataclasses.dataclass(frozen=True)
class Experiments:
    """The configured experiments (possibly none)."""

    experiments: list[Experiment]

    @classmethod
    def from_settings(cls, settings: Settings, path: Path | None) -> Experiments:
        candidates = (
            [path]
            if path is not None
            else [settings.data_dir / "experiments.toml", settings.data_dir / "experiments.json"]
        )
        for candidate in candidates:
            if candidate is not None and (path is not None or candidate.is_file()):
                return cls(load_experiments(candidate))
        return cls([])

    def assign(self, user_id: str) -> tuple[str, str, str] | None:
        """``(experiment, variant, policy)`` of the shopper in the first experiment."""
        if not self.experiments or not user_id:
            return None
        experiment = self.experiments[0]
        name = assign_variant(experiment, user_id)
        return experiment.name, name, experiment.variant(name).policy

    def results(self, store: HasEvents) -> list[dict[str, Any]]:
        """Each experiment's live report over the stored events, JSON-ready."""
        if not self.experiments:
            return []
        per_user = user_outcomes(store)
        users = sorted(per_user)

        def column(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
            return np.array([getattr(per_user[u], name) for u in users], dtype=np.float64)

        outcomes = UserOutcomes(
            users, column("impressions"), column("clicks"), column("purchases"), column("revenue")
        )
        reports = []
        for experiment in self.experiments:
            report = analyze(experiment, outcomes, resamples=500)
            reports.append(
                {
                    "experiment": report.experiment,
                    "srm_p_value": report.srm_p_value,
                    "srm_ok": report.srm_ok,
                    "variants": [
                        dataclasses.asdict(v) | {"policy": experiment.variant(v.name).policy}
                        for v in report.variants
                    ],
                    "conversion_tests": {
                        k: dataclasses.asdict(t) for k, t in report.conversion_tests.items()
                    },
                    "revenue_tests": {
                        k: dataclasses.asdict(t) for k, t in report.revenue_tests.items()
                    },
                }
            )
        return reports
