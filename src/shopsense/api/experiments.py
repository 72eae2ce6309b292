"""A/B experiments while serving: assignment per shopper, and live results.

Experiments come from ``SHOPSENSE_EXPERIMENTS_FILE`` (default ``<data dir>/experiments.toml``
or ``.json``; format in :mod:`shopsense.experiments`). The first experiment's variants pick
the model that answers "for you" (``policy`` = a model name in the serving bundle, e.g.
``als`` vs ``item_tower``); every list says which variant served it. Results come from the
stored events (impressions, clicks, purchases, revenue per shopper) through
:func:`shopsense.evaluation.abtest.analyze`: per-variant CTR, conversion, revenue with 95 %
intervals, tests against the control and a sample-ratio-mismatch check, always reported
(its chi-square p-value, the users per variant against the configured shares, the verdict).

Results count only events from each experiment's ``start``: shoppers' earlier behaviour
was not caused by the variant. An experiment without a ``start`` in the file starts when
a server first loads it; that moment is kept in ``<data dir>/experiments-started.json``
(keyed by name and salt), so a restart does not move it. Rename the experiment, change its
salt or set ``start`` to begin counting afresh.

Example::

    >>> experiments = Experiments.from_settings(settings, config)   # doctest: +SKIP
    >>> experiments.assign("U0042")                                 # doctest: +SKIP
    ('als-vs-tower', 'treatment', 'item_tower')
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shopsense.api.analytics import HasEvents
from shopsense.config import Settings
from shopsense.evaluation.abtest import SRM_ALPHA, UserOutcomes, analyze, assign_variant
from shopsense.experiments import Experiment, load_experiments
from shopsense.files import write_text_atomically
from shopsense.store.base import to_micros

log = logging.getLogger(__name__)

#: Where the start of each experiment the file gives none for is kept.
STARTED = "experiments-started.json"


@dataclasses.dataclass(frozen=True)
class Experiments:
    """The configured experiments (possibly none)."""

    experiments: list[Experiment]

    @classmethod
    def from_settings(cls, settings: Settings, path: Path | None) -> Experiments:
        """The configured experiments, each with its ``start`` (see the module doc)."""
        candidates = (
            [path]
            if path is not None
            else [settings.data_dir / "experiments.toml", settings.data_dir / "experiments.json"]
        )
        for candidate in candidates:
            if candidate is not None and (path is not None or candidate.is_file()):
                loaded = load_experiments(candidate)
                return cls(with_starts(loaded, settings.data_dir / STARTED))
        return cls([])

    def assign(self, user_id: str) -> tuple[str, str, str] | None:
        """``(experiment, variant, policy)`` of the shopper in the first experiment."""
        if not self.experiments or not user_id:
            return None
        experiment = self.experiments[0]
        name = assign_variant(experiment, user_id)
        return experiment.name, name, experiment.variant(name).policy

    def results(self, store: HasEvents) -> list[dict[str, Any]]:
        """Each experiment's live report over the events since its start, JSON-ready."""
        return [report(experiment, store) for experiment in self.experiments]


def report(experiment: Experiment, store: HasEvents) -> dict[str, Any]:
    """One experiment's report: variants, tests against the control, the SRM check."""
    since = to_micros(experiment.start) if experiment.start is not None else None
    per_user = store.events.outcomes_by_user(since_us=since)
    users = sorted(per_user)

    def column(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([getattr(per_user[u], name) for u in users], dtype=np.float64)

    outcomes = UserOutcomes(
        users, column("impressions"), column("clicks"), column("purchases"), column("revenue")
    )
    result = analyze(experiment, outcomes, resamples=500)
    total = sum(v.users for v in result.variants)
    variants = []
    for v in result.variants:
        config = experiment.variant(v.name)
        variants.append(
            dataclasses.asdict(v)
            | {
                "policy": config.policy,
                "share": v.users / total if total else 0.0,
                "expected_share": config.weight / experiment.total_weight,
            }
        )
    return {
        "experiment": result.experiment,
        "start": experiment.start.isoformat() if experiment.start else None,
        "users": total,
        "srm_p_value": result.srm_p_value,
        "srm_ok": result.srm_ok,
        "srm_threshold": SRM_ALPHA,
        "variants": variants,
        "conversion_tests": {k: dataclasses.asdict(t) for k, t in result.conversion_tests.items()},
        "ctr_tests": {k: dataclasses.asdict(t) for k, t in result.ctr_tests.items()},
        "revenue_tests": {k: dataclasses.asdict(t) for k, t in result.revenue_tests.items()},
    }


def with_starts(experiments: list[Experiment], path: Path) -> list[Experiment]:
    """``experiments`` with a ``start`` each: the file's, else the one kept at ``path``,
    else now (then kept there, so a restart counts from the same moment)."""
    try:
        kept: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        kept = {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s (%s): experiments without a start begin now", path, exc)
        kept = {}
    now = datetime.now(UTC)
    out, changed = [], False
    for experiment in experiments:
        if experiment.start is not None:
            out.append(experiment)
            continue
        key = f"{experiment.name}|{experiment.salt or experiment.name}"
        start = _moment(kept.get(key))
        if start is None:
            kept[key], changed = now.isoformat(), True
            start = now
        out.append(experiment.model_copy(update={"start": start}))
    if changed:
        try:
            write_text_atomically(path, json.dumps(kept, indent=2))
        except OSError as exc:  # still served; a restart would begin the count again
            log.warning("could not keep the experiments' start in %s: %s", path, exc)
    return out


def _moment(value: object) -> datetime | None:
    """A kept ISO time (``None`` when absent or unreadable: the start is taken again)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
