"""What shoppers type and the shop's keyword search."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.synth import SampleShop
from shopsense.synth.queries import KeywordSearch, make_query, tokens
from shopsense.synth.vocabulary import LEAVES


def test_tokens_fold_case_and_plurals() -> None:
    assert tokens("Waterproof Trail-Running Shoes, BLUE") == [
        "waterproof", "trail", "running", "shoe", "blue",
    ]  # fmt: skip
    assert tokens("glass") == ["glass"]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), leaf=st.sampled_from(LEAVES))
def test_queries_are_short_lower_case_text(seed: int, leaf: object) -> None:
    query = make_query(leaf, ("Trailmark",), np.random.default_rng(seed))  # type: ignore[arg-type]
    assert query and query == query.lower() and query == query.strip()
    assert 1 <= len(query.split()) <= 8


def test_queries_vary() -> None:
    rng = np.random.default_rng(0)
    leaf = next(leaf for leaf in LEAVES if leaf.noun == "trail running shoe")
    queries = {make_query(leaf, ("Trailmark",), rng) for _ in range(300)}
    assert len(queries) > 40


def test_search_finds_the_category(medium_shop: SampleShop) -> None:
    products = medium_shop.products
    search = KeywordSearch(products)
    everything = np.ones(len(products), dtype=bool)
    popularity = np.zeros(len(products))
    rng = np.random.default_rng(0)
    for query, leaf in [("chef knife", "Knives"), ("tent", "Tents"), ("yoga mat", "Yoga Mats")]:
        found = search.search(query, everything, popularity, 10, rng)
        assert len(found) == 10
        in_leaf = [products[i].category[-1] == leaf for i in found]
        assert sum(in_leaf) >= 8, query
    assert len(search.search("zzqx", everything, popularity, 10, rng)) == 0
