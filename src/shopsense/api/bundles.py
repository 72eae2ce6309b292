"""What the dashboard says about model bundles: the models inside each bundle compared,
and which model of the serving bundle answers each scenario.

The comparison is what training recorded in the bundle's ``manifest.json``: ``metrics``
holds each retrieval model's validation NDCG@10 (and the blend's), measured on the same
held-out next events (:func:`shopsense.training.choose_retrieval`); ``stack.blend`` the
weights the blend chose. Older bundles' metrics (any names) are shown as they are.

Example::

    >>> comparison({"metrics": {"als": {"NDCG@10": 0.2}, "blend": {"NDCG@10": 0.25}},
    ...             "stack": {"blend": {"als": 1.0}}})["rows"][0]["model"]
    'blend'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from shopsense.experiments import Experiment
from shopsense.recommend import ModelSet
from shopsense.recommend.scenarios import answering

#: The metric the comparison sorts by when training recorded it.
KEY_METRIC = "NDCG@10"
#: Bundles listed on the dashboard (newest first; the serving one is always listed).
SHOWN = 20


def comparison(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """The models of one bundle (an entry of ``ModelManager.bundles()``), best first by
    validation NDCG@10, each with its metrics, blend weight and share of the best score."""
    metrics: Mapping[str, Mapping[str, float]] = bundle.get("metrics") or {}
    blend: Mapping[str, float] = (bundle.get("stack") or {}).get("blend") or {}
    names = sorted({name for values in metrics.values() for name in values})
    key = KEY_METRIC if KEY_METRIC in names else (names[0] if names else None)

    def score(model: str) -> float:
        value = metrics[model].get(key, float("-inf")) if key else float("-inf")
        return float(value) if value is not None else float("-inf")

    order = sorted(metrics, key=lambda model: (-score(model), model))
    top = max((score(m) for m in order), default=0.0)
    singles = [m for m in order if m != "blend"]
    return {
        "metric_names": names,
        "key": key,
        "best": singles[0] if singles else None,
        "rows": [
            {
                "model": model,
                "metrics": dict(metrics[model]),
                "weight": blend.get(model),
                "share": score(model) / top if top > 0 and score(model) > 0 else 0.0,
            }
            for model in order
        ],
    }


def listed(bundles: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest :data:`SHOWN` bundles and the serving one, each with its comparison."""
    shown = [b for k, b in enumerate(bundles) if k < SHOWN or b.get("serving")]
    return [b | {"comparison": comparison(b)} for b in shown]


def scenario_rows(
    models: ModelSet | None, experiment: Experiment | None = None
) -> list[dict[str, str]]:
    """One row per scenario (:func:`shopsense.recommend.scenarios.answering`), the A/B test
    on "for you" named where one runs."""
    if models is None:
        return []
    rows = [asdict(row) for row in answering(models) if row.scenario != "new_shopper"]
    if experiment is not None:
        arms = ", ".join(f"{v.name}: {v.policy}" for v in experiment.variants)
        rows[0]["how"] += f"; A/B test {experiment.name} ({arms})"
    return rows
