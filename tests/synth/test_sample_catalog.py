"""The sample catalog: category tree, prices, stock, launch dates and text."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from shopsense.synth import SampleShop
from shopsense.synth.vocabulary import COMPLEMENTS, DEPARTMENTS, LEAVES


def test_category_tree_is_broad() -> None:
    assert len(LEAVES) >= 24
    assert {leaf.department for leaf in LEAVES} == {
        "Electronics", "Home", "Beauty", "Sports", "Toys", "Fashion",
    }  # fmt: skip
    assert {d.name for d in DEPARTMENTS} == {leaf.department for leaf in LEAVES}
    paths = {leaf.path for leaf in LEAVES}
    assert len(paths) == len(LEAVES)
    assert all(len(p.split(" > ")) == 3 for p in paths)
    for leaf, partners in COMPLEMENTS.items():
        assert leaf in paths and set(partners) <= paths


def test_every_leaf_is_stocked(medium_shop: SampleShop) -> None:
    used = {p.category_path for p in medium_shop.products}
    assert used == {leaf.path for leaf in LEAVES}


def test_products_are_coherent(medium_shop: SampleShop) -> None:
    nouns = {leaf.path: leaf.noun for leaf in LEAVES}
    brands = {leaf.path: set(d.brands) for d in DEPARTMENTS for leaf in LEAVES
              if leaf.department == d.name}  # fmt: skip
    for product in medium_shop.products:
        assert product.title.startswith(str(product.brand))
        assert product.brand in brands[product.category_path]
        assert nouns[product.category_path] in product.title
        if "color" in product.attributes:
            assert product.title.endswith(str(product.attributes["color"]))
        assert 1 <= product.description.count(".") <= 5
        assert product.currency == "USD" and product.price is not None and product.price > 0


def test_prices_follow_each_leaf(medium_shop: SampleShop) -> None:
    prices: dict[str, list[float]] = defaultdict(list)
    for product in medium_shop.products:
        prices[product.category_path].append(product.price or 0.0)
    for leaf in LEAVES:
        if len(prices[leaf.path]) >= 20:
            ratio = np.median(prices[leaf.path]) / leaf.median_price
            assert 0.6 < ratio < 1.7, leaf.path
    phones = np.median(prices["Electronics > Phones > Smartphones"])
    assert phones > 5 * np.median(prices["Electronics > Phones > Phone Cases"])


def test_stock_and_launch_dates(medium_shop: SampleShop) -> None:
    products = medium_shop.products
    out_of_stock = np.mean([not p.in_stock for p in products])
    assert 0.02 < out_of_stock < 0.09
    start, end = medium_shop.truth.start, medium_shop.truth.end
    launched = [p.created_at for p in products]
    assert all(c is not None and c < end for c in launched)
    new_share = np.mean([c is not None and c >= start for c in launched])
    assert 0.05 < new_share < 0.2


def test_latent_style_follows_the_category(medium_shop: SampleShop) -> None:
    truth = medium_shop.truth
    latent, leaf = truth.item_latent, truth.item_category
    assert np.allclose(np.linalg.norm(latent, axis=1), 1.0)
    similarity = latent @ latent.T
    same = leaf[:, None] == leaf[None, :]
    assert similarity[same].mean() > similarity[~same].mean() + 0.3
