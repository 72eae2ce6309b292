"""The default stack learns from what shoppers were shown, and serves what it learned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from feedback_world import feedback_events

import shopsense
from shopsense.errors import ConfigError
from shopsense.ranking.stack import StackConfig

FAST = StackConfig(
    candidates=("popularity", "repeat", "item_knn"),
    min_impressions=500,
    min_clicks=20,
    ranker={"hidden": 16, "max_epochs": 30},
)
NEWCOMER = [{"item_id": "P3", "kind": "view", "timestamp": 1.0}]


@pytest.fixture(scope="module")
def stack(feedback_log: list[dict[str, Any]]) -> shopsense.Stack:
    return shopsense.train(shopsense.Dataset.from_events(feedback_log), FAST)


def test_clicks_on_what_was_shown_beat_what_was_browsed(stack: shopsense.Stack) -> None:
    assert stack.ranker is not None
    top = stack.recommend(NEWCOMER, n=3, objective="click").item_ids
    assert top[0] == "P19"
    assert "P0" not in top
    effects = stack.ranker.item_effects()
    assert effects[stack.table.index["P19"]] > 0 > effects[stack.table.index["P0"]]


def test_without_feedback_the_blend_follows_browsing() -> None:
    data = shopsense.Dataset.from_events(feedback_events(impressions=False))
    blend_only = shopsense.train(data, FAST)
    assert blend_only.ranker is None
    assert "skipped" in blend_only.report["ranker"]
    ranked = blend_only.recommend(NEWCOMER, n=3)
    assert ranked.strategy == "blend"
    assert ranked.item_ids[0] == "P0"


def test_report_compares_the_ranker_with_its_baselines(stack: shopsense.Stack) -> None:
    report = stack.report
    assert set(report["retrieval"]["single"]) == {"popularity", "repeat", "item_knn"}
    assert report["retrieval"]["blend"]
    click = report["ranker"]["tasks"]["click"]
    for model in ("ranker", "item_rate", "logistic"):
        assert 0.0 <= click[model]["ece"] <= 1.0
        assert click[model]["reliability"]
    assert click["ranker"]["auc"] > 0.6  # P19 vs the rest is easy


def test_shown_and_not_clicked_lowers_an_item_at_once(stack: shopsense.Stack) -> None:
    """In this shop a product shown and not clicked is clicked less later: the ranker
    learned it, and three impressions in the live history lower it, without retraining."""
    first = stack.recommend(NEWCOMER, n=20, objective="click")
    skipped = first.item_ids[0]
    shown = [{"item_id": skipped, "kind": "impression", "timestamp": 2.0 + k} for k in range(3)]
    again = stack.recommend(NEWCOMER + shown, n=20, objective="click")
    assert again.scores[again.item_ids.index(skipped)] < 0.7 * first.scores[0]
    assert stack.ranker is not None
    assert stack.ranker.skip_index_ >= 0


def test_exploration_logs_propensities(stack: shopsense.Stack) -> None:
    greedy = stack.recommend(NEWCOMER, n=5, objective="click")
    assert greedy.propensities == [1.0] * 5
    explored = stack.recommend(NEWCOMER, n=5, objective="click", exploration=0.5, seed=3)
    assert any(p < 1.0 for p in explored.propensities)
    assert all(0 < p <= 1 for p in explored.propensities)
    assert (
        set(explored.item_ids) != set(greedy.item_ids)
        or explored.propensities != greedy.propensities
    )


def test_save_and_load_serve_the_same(stack: shopsense.Stack, tmp_path: Path) -> None:
    stack.save(tmp_path / "stack")
    loaded = shopsense.load(tmp_path / "stack")
    for objective in ("click", "conversion"):
        a = stack.recommend(NEWCOMER, n=5, objective=objective)
        b = loaded.recommend(NEWCOMER, n=5, objective=objective)
        assert a.item_ids == b.item_ids
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)


def test_bad_history_and_settings_are_clear_errors(stack: shopsense.Stack) -> None:
    with pytest.raises(ConfigError, match="kind"):
        stack.recommend([{"item_id": "P1", "kind": "wishlist"}])
    with pytest.raises(ConfigError, match="objective"):
        StackConfig(objective="profit")  # type: ignore[arg-type]
