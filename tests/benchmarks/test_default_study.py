"""The package's model defaults are the settings its cross-dataset study chose, and the study's
script runs end to end (``benchmarks/default_study.py``)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from benchmark_helpers import BENCHMARKS, run_benchmark
from shopsense.models import MODELS

STUDY = BENCHMARKS / "results" / "default_study.json"


def defaults(name: str) -> dict[str, object]:
    return {
        f.name: f.default
        for f in dataclasses.fields(MODELS[name])
        if f.init and f.default is not dataclasses.MISSING
    }


def test_model_defaults_are_the_studys_choice() -> None:
    study = json.loads(STUDY.read_text())
    assert study, "no model in the default study"
    for name, result in study.items():
        chosen = result["chosen"]
        assert {k: defaults(name)[k] for k in chosen} == chosen, name
        # the study scored what it chose on every dataset, and it beat the old default
        scores, before = result["chosen_valid_ndcg@10"], result["previous_default_valid_ndcg@10"]
        assert set(scores) == set(before) == set(result["datasets"])
        gain = sum(math.log(scores[d] / before[d]) for d in scores) / len(scores)
        assert gain >= 0.0, name


@pytest.mark.slow
def test_default_study_smoke(tmp_path: Path) -> None:
    out = tmp_path / "study.json"
    run_benchmark(
        "default_study.py",
        *("--models", "als", "--datasets", "scientific", "--trials", "2", "--out", str(out)),
        needs_datasets=True,
    )
    result = json.loads(out.read_text())["als"]
    assert len(result["trials"]) == 2
    # the first trial is the package's default, scored on the dataset's validation step
    assert result["trials"][0]["params"] == result["previous_default"]
    assert result["trials"][0]["params"] == {k: defaults("als")[k] for k in result["chosen"]}
    assert set(result["chosen_valid_ndcg@10"]) == {"scientific"}
    assert 0.0 < result["chosen_valid_ndcg@10"]["scientific"] < 1.0
