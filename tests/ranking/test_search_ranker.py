from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.errors import ConfigError, ModelError
from shopsense.ranking.search_ranker import SearchRanker
from shopsense.search.features import FEATURES


def synthetic(n_queries: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Grades driven by the 'cosine' feature plus noise in the others."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n_queries):
        x = rng.normal(size=(30, len(FEATURES))).astype(np.float32)
        signal = x[:, FEATURES.index("cosine")]
        ys.append(np.digitize(signal, [-0.5, 0.5, 1.2]).astype(np.int32))
        xs.append(x)
    return xs, ys


def test_learns_the_signal_and_round_trips(tmp_path: Path) -> None:
    xs, ys = synthetic(40, 0)
    ranker = SearchRanker(n_estimators=50, label_gain=(0.0, 0.01, 0.1, 1.0)).fit(xs, ys, FEATURES)
    test_x, test_y = synthetic(5, 1)
    for x, y in zip(test_x, test_y, strict=True):
        top = np.argsort(-ranker.predict(x))[:3]
        assert y[top].mean() > y.mean()
    importance = ranker.feature_importance()
    assert max(importance, key=importance.__getitem__) == "cosine"
    ranker.save(tmp_path / "r")
    loaded = SearchRanker.load(tmp_path / "r")
    assert np.allclose(loaded.predict(test_x[0]), ranker.predict(test_x[0]))
    assert loaded.label_gain == (0.0, 0.01, 0.1, 1.0)


def test_errors() -> None:
    with pytest.raises(ModelError, match="not trained"):
        SearchRanker().predict(np.zeros((1, len(FEATURES)), np.float32))
    with pytest.raises(ConfigError, match="features"):
        SearchRanker().fit([np.zeros((3, 2), np.float32)], [np.zeros(3, np.int32)], FEATURES)


def test_contributions_sum_to_the_score_and_name_the_signal() -> None:
    xs, ys = synthetic(40, 0)
    ranker = SearchRanker(n_estimators=50, label_gain=(0.0, 0.01, 0.1, 1.0)).fit(xs, ys, FEATURES)
    x = synthetic(1, 2)[0][0]
    parts = ranker.contributions(x)
    assert parts.shape == (len(x), len(FEATURES) + 1)
    np.testing.assert_allclose(parts.sum(axis=1), ranker.predict(x), atol=1e-4)
    spread = np.abs(parts[:, :-1]).mean(axis=0)
    assert FEATURES[int(spread.argmax())] == "cosine"  # the feature the grades follow
    assert ranker.contributions(x[:0]).shape == (0, len(FEATURES) + 1)
    with pytest.raises(ModelError, match="not trained"):
        SearchRanker().contributions(x)
