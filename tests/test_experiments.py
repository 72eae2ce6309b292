"""Experiment configuration files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shopsense.errors import ConfigError
from shopsense.experiments import load_experiments, parse_experiments

TOML = """
[[experiments]]
name = "ranker-vs-als"
[[experiments.variants]]
name = "control"
policy = "als"
weight = 50
[[experiments.variants]]
name = "treatment"
policy = "stack"
weight = 50
params = { objective = "revenue" }
"""


def test_toml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "e.toml").write_text(TOML)
    [experiment] = load_experiments(tmp_path / "e.toml")
    assert experiment.variant_names == ["control", "treatment"]
    assert experiment.variant("treatment").params == {"objective": "revenue"}
    assert experiment.total_weight == 100
    (tmp_path / "e.json").write_text(json.dumps({"experiments": [experiment.model_dump()]}))
    assert load_experiments(tmp_path / "e.json") == [experiment]


@pytest.mark.parametrize(
    "variants, message",
    [
        ([{"name": "a"}], "at least 2"),
        ([{"name": "a"}, {"name": "a"}], "unique"),
        ([{"name": "a"}, {"name": "b", "weight": 0}], "greater than 0"),
        ([{"name": "a"}, {"name": "b", "colour": "red"}], "Extra inputs"),
    ],
)
def test_invalid_experiments_are_refused(variants: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_experiments({"experiments": [{"name": "x", "variants": variants}]})


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[[experiments]\n")
    with pytest.raises(ConfigError, match="not valid toml"):
        load_experiments(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiments(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (Path(__file__).parents[1] / "examples").glob("experiment*"))
)
def test_shipped_examples_load(name: str) -> None:
    from shopsense.evaluation.policies import POLICIES
    from shopsense.models import MODELS

    for experiment in load_experiments(Path(__file__).parents[1] / "examples" / name):
        assert experiment.variants[0].name == "control"
        assert all(v.policy in {*POLICIES, *MODELS} for v in experiment.variants)


def test_start_is_utc_a_date_is_its_midnight_and_absent_by_default() -> None:
    def start(value: object) -> object:
        variants = [{"name": "a"}, {"name": "b"}]
        fields = {"name": "x", "variants": variants} | ({} if value is None else {"start": value})
        return parse_experiments({"experiments": [fields]})[0].start

    assert start(None) is None
    assert start(date(2026, 12, 1)) == datetime(2026, 12, 1, tzinfo=UTC)
    assert start(datetime(2026, 12, 1, 9, 30)) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert start("2026-12-01T10:30:00+01:00") == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(ConfigError, match="start"):
        start("next tuesday")
