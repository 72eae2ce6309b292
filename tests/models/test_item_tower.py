"""The item tower: features drive vectors, new products are recommendable from day zero."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.domain import Product
from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.features.item_features import ItemFeatures, ItemFeatureSpace, catalog_features
from shopsense.models import load_model
from shopsense.models.item_tower import ItemTower

pytest.importorskip("torch")

GROUPS = {"kitchen": "Home > Kitchen > Knives", "running": "Sports > Running > Shoes"}


def catalog() -> list[Product]:
    """Ten knives and ten shoes (ids k0-k9, r0-r9), two brands per group."""
    out = []
    for prefix, group in (("k", "kitchen"), ("r", "running")):
        for i in range(10):
            brand = f"{group}-brand-{i % 2}"
            out.append(Product(id=f"{prefix}{i}", title=f"{group} {i}", category=GROUPS[group],
                               brand=brand, price=10.0 + i))  # fmt: skip
    return out


def shoppers() -> InteractionData:
    """Cooks buy knives k0-k7, runners shoes r0-r7; k8, k9, r8, r9 never sell."""
    rng = np.random.default_rng(0)
    sequences = {}
    for u in range(40):
        prefix = "k" if u % 2 else "r"
        chosen = rng.choice(8, size=4, replace=False)
        sequences[f"u{u}"] = [f"{prefix}{i}" for i in chosen]
    return InteractionData.from_sequences(sequences, items=[p.id for p in catalog()])


@pytest.fixture(scope="module", params=["softmax", "als", "als+keep"])
def model(request: pytest.FixtureRequest) -> ItemTower:
    data = shoppers()
    space, features = catalog_features(catalog(), data.items.to_list(), min_count=1)
    tower = ItemTower(
        objective=request.param.split("+")[0], keep_als_factors="keep" in request.param,
        factors=8, hidden=16, epochs=60, learning_rate=0.01,
        batch_size=32, dropout=0.0, num_threads=1, als_iterations=10, patience=60,
        regression_epochs=60, regression_batch_size=32,
    )  # fmt: skip
    return tower.with_item_features(features, space).fit(data)


def test_items_without_events_are_recommended_by_their_features(model: ItemTower) -> None:
    cook = model.scores("cook", history=["k0", "k1"])
    index = model.items_.indices(["k8", "k9", "r8", "r9"])
    assert min(cook[index[:2]]) > max(cook[index[2:]])
    runner = model.scores("runner", history=["r0", "r1"])
    assert min(runner[index[2:]]) > max(runner[index[:2]])


def test_add_items_makes_a_new_product_recommendable(model: ItemTower, tmp_path: Path) -> None:
    model.save(tmp_path / "before")
    tower = load_model(tmp_path / "before")
    assert isinstance(tower, ItemTower)
    new = Product(id="k-new", title="new knife", category=GROUPS["kitchen"],
                  brand="kitchen-brand-0", price=12.0)  # fmt: skip
    vector = tower.item_vectors_for([new])
    assert vector.shape == (1, 8)
    tower.add_items([new])
    assert "k-new" in tower.items_ and tower.item_vectors_.shape[0] == 21
    np.testing.assert_allclose(tower.item_vectors_[tower.items_.index("k-new")], vector[0])
    # The cook ranks the new knife above the shoes that are as new to the model as it is.
    knives = [f"k{i}" for i in range(6)]
    cook = tower.scores("cook", history=knives)
    assert cook[tower.items_.index("k-new")] > cook[tower.items_.indices(["r8", "r9"])].max()
    ranked, _ = tower.recommend("cook", n=21, history=knives)
    assert "k-new" in ranked
    # Added items survive a save / load round trip.
    tower.save(tmp_path / "after")
    again = load_model(tmp_path / "after")
    assert again.items_.to_list() == tower.items_.to_list()
    np.testing.assert_allclose(again.scores("u1"), tower.scores("u1"), rtol=1e-5, atol=1e-6)


def test_similar_items_follow_features(model: ItemTower) -> None:
    similar, _ = model.similar_items("k8", n=5)
    assert all(s.startswith("k") for s in similar)


def test_bad_inputs_are_refused() -> None:
    data = shoppers()
    with pytest.raises(ModelError, match="objective"):
        ItemTower(objective="mse", epochs=1).fit(data)
    with pytest.raises(ModelError, match=r"data\.items order"):
        ItemTower(epochs=1).with_item_features(ItemFeatures.identity(3)).fit(data)
    _, features = catalog_features(catalog(), data.items.to_list(), min_count=1)
    without_space = ItemTower(epochs=1, num_threads=1).with_item_features(features).fit(data)
    with pytest.raises(ModelError, match="ItemFeatureSpace"):
        without_space.item_vectors_for(catalog()[:1])


def test_without_features_new_items_score_zero() -> None:
    tower = ItemTower(factors=4, hidden=8, epochs=5, num_threads=1).fit(shoppers())
    assert tower.identity_
    scores = tower.scores("u1")
    assert scores[tower.items_.index("k9")] == 0.0
    assert not tower.item_vectors_for(catalog()[:2]).any()
    assert isinstance(ItemFeatureSpace.fit(catalog()), ItemFeatureSpace)
