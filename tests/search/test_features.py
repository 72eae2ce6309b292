from __future__ import annotations

import math

import numpy as np

from factories import product
from shopsense.search.features import FEATURES, Evidence, search_features
from shopsense.search.query import parse_query


def _features(query: str, titles: list[str], descriptions: list[str] | None = None) -> np.ndarray:
    descriptions = descriptions or [""] * len(titles)
    products = [
        product(i, title=t, description=d)
        for i, (t, d) in enumerate(zip(titles, descriptions, strict=True))
    ]
    n = len(products)
    evidence = Evidence(
        parse_query(query),
        bm25=np.ones(n, np.float32),
        cosine=np.full(n, 0.5, np.float32),
        lexical_rank=np.arange(1, n + 1, dtype=np.float32),
        semantic_rank=np.arange(1, n + 1, dtype=np.float32),
    )
    return search_features(evidence, products)


def test_excluded_words_count_only_where_the_product_has_them() -> None:
    matrix = _features(
        "dinnerware sets without mugs",
        [
            "Dinnerware set, 16 pieces, with 4 mugs",
            "Dinnerware set without mugs, 12 pieces",  # says itself it has none
            "Dinnerware set, 12 pieces",
            "Stoneware dinner set",
        ],
        ["", "", "Includes plates, bowls and a mug.", "Mug-free set."],
    )
    title = matrix[:, FEATURES.index("excluded_in_title")]
    text = matrix[:, FEATURES.index("excluded_in_text")]
    assert title.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert text.tolist() == [1.0, 0.0, 1.0, 0.0]  # "mug" ~ "mugs"; "mug-free" is negated


def test_queries_without_a_negation_leave_the_features_missing() -> None:
    matrix = _features("dinnerware sets", ["Dinnerware set with mugs"])
    assert math.isnan(matrix[0, FEATURES.index("excluded_in_title")])
    assert matrix.shape == (1, len(FEATURES))
