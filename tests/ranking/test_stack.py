"""The default stack learns from what shoppers were shown, and serves what it learned."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from feedback_world import feedback_events

import shopsense
from shopsense.errors import ConfigError, ModelError
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


def test_the_final_ranker_searches_again_on_small_logs(stack: shopsense.Stack) -> None:
    """Below ``max_rows`` the final ranker has a quarter more rows than the report's and
    makes its own choices."""
    assert stack.ranker is not None
    selection = stack.report["ranker"]["selection"]
    assert "item_l2_losses" in selection and "item_l2_losses" in selection["final"]
    assert stack.ranker.item_l2_ == selection["final"]["item_l2"]


def test_on_large_logs_the_final_ranker_keeps_the_report_rankers_choices(
    feedback_log: list[dict[str, Any]],
) -> None:
    """One search, not two: when both rankers learn from a sample of ``max_rows``
    impressions, the served one is fitted with the item-effect shrinkage and click residual
    that the held-out report's ranker chose."""
    capped = dataclasses.replace(FAST, ranker={**FAST.ranker, "max_rows": 1000})
    stack = shopsense.train(shopsense.Dataset.from_events(feedback_log), capped)
    assert stack.ranker is not None
    selection = stack.report["ranker"]["selection"]
    assert selection["rows"]["learned_from"] < selection["rows"]["logged"]  # sampled
    assert stack.ranker.item_l2_ == selection["item_l2"]
    assert stack.ranker.residual_ == selection["residual"]
    assert "item_l2_losses" in selection and "item_l2_losses" not in selection["final"]


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


def test_a_bundle_saved_before_a_feature_existed_still_serves(
    stack: shopsense.Stack, tmp_path: Path
) -> None:
    """Regression: the feature builder gained ``click_affinity``; a ranker saved before
    it read one column fewer, and every ranked request failed on the shape."""
    import json

    stack.save(tmp_path / "stack")
    ranker_dir = tmp_path / "stack" / "ranker"
    meta = json.loads((ranker_dir / "model.json").read_text())
    built = meta["feature_names"]
    assert "click_affinity" in built
    meta["feature_names"] = [name for name in built if name != "click_affinity"]
    with np.load(ranker_dir / "state.npz") as arrays:
        state = {k: arrays[k] for k in arrays.files}
    drop = built.index("click_affinity")
    for key in ("feature_mean_", "feature_scale_", "feature_low_", "feature_high_"):
        state[key] = np.delete(state[key], drop)
    for key in list(state):
        if key.endswith(".weight") and state[key].ndim == 2 and state[key].shape[1] == len(built):
            state[key] = np.delete(state[key], drop, axis=1)
    # the affinity was the last monotone prior: its knots, slope and steps go too
    for key in ("net.knots", "net.prior_slope", "net.prior_steps"):
        state[key] = state[key][:-1]
    kept = state["net.structural"][state["net.structural"] != drop]
    state["net.structural"] = kept - (kept > drop)
    meta["params"]["prior_features"] = ["blend.score_z", "*.log_prob"]
    (ranker_dir / "model.json").write_text(json.dumps(meta))
    np.savez(ranker_dir / "state.npz", **state)
    old = shopsense.load(tmp_path / "stack")
    ranked = old.recommend(NEWCOMER, n=5, objective="click")
    assert ranked.strategy == "ranker" and len(ranked.item_ids) == 5
    # a ranker that reads a feature this version does not build is a clear error
    meta["feature_names"] = [*meta["feature_names"][:-1], "from_the_future"]
    (ranker_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="retrain"):
        shopsense.load(tmp_path / "stack").recommend(NEWCOMER, n=5)
