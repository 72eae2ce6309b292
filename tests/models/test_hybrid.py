"""Hybrid: per-shopper normalisation, weights, zero weights, and save/load of components."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models import Hybrid, load_model
from shopsense.models.hybrid import normalise


def test_zscore_and_rank_normalisation_by_hand() -> None:
    scores = np.array([[1.0, 2.0, 3.0, -np.inf]], np.float32)
    z = normalise(scores, "zscore")
    np.testing.assert_allclose(z[0, :3], [-1.2247449, 0.0, 1.2247449], rtol=1e-5)
    assert z[0, 3] == -np.inf
    r = normalise(scores, "rank")
    np.testing.assert_allclose(r[0, :3], [1 / 62, 1 / 61, 1 / 60], rtol=1e-6)
    with pytest.raises(ModelError):
        normalise(scores, "minmax")


def shop() -> InteractionData:
    sequences = {f"a{i}": list("ABC") for i in range(4)} | {f"d{i}": list("DE") for i in range(6)}
    return InteractionData.from_sequences(sequences)


def test_weights_pick_the_component() -> None:
    # Popularity alone says D/E; transition after A says B. The weights decide.
    data = shop()
    parts = {"popularity": {}, "transition": {"smoothing": 1.0}}  # a light prior: a tiny shop
    popular = Hybrid(components=parts, weights={"transition": 0})
    sequential = Hybrid(components=parts, weights={"popularity": 0})
    assert popular.fit(data).recommend("x", n=1, history=["A"])[0][0] in ("D", "E")
    assert sequential.fit(data).recommend("x", n=1, history=["A"])[0][0] == "B"


def test_all_zero_weights_and_unknown_components_are_refused() -> None:
    with pytest.raises(ModelError, match="unknown hybrid component"):
        Hybrid(components={"nope": {}}).fit(shop())
    with pytest.raises(ModelError, match="at least one"):
        Hybrid(components={}).fit(shop())
    model = Hybrid(components={"popularity": {}}, weights={"popularity": 0}).fit(shop())
    with pytest.raises(ModelError, match="weight"):
        model.recommend("a0")


def test_components_are_saved_with_their_parameters(tmp_path: Path) -> None:
    model = Hybrid(components={"transition": {"order": 2}, "item_knn": {"neighbors": 5}})
    model.fit(shop()).save(tmp_path / "h")
    loaded = load_model(tmp_path / "h")
    assert isinstance(loaded, Hybrid)
    assert loaded.models_["transition"].get_params()["order"] == 2
    np.testing.assert_allclose(loaded.scores("a0"), model.scores("a0"), rtol=1e-6)
