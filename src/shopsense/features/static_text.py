"""A fast static text encoder: Model2Vec embeddings distilled from the packaged MiniLM.

MiniLM costs ~0.6 GFLOP per product text, so two cores embed ~80-190 product texts per
second: cold indexing of a large catalog takes hours. :class:`StaticEncoder` trades some
quality for ~100x that speed. Model2Vec (the ``model2vec`` library) runs the packaged
all-MiniLM-L6-v2 once over its own vocabulary, keeps one vector per token (PCA to 256-d,
Zipf-weighted), and then embeds a text as the mean of its tokens' vectors: no network, no
transformer at encode time.

The distillation needs torch and transformers (the ``search`` extra) and takes ~20 s on two
cores; it runs once and is cached under ``model_cache`` (default
``~/.cache/shopsense/``), written atomically so processes can race. Products are
represented by title, brand and category only (see :meth:`StaticEncoder.product_text`):
word averages blur with long descriptions, and on esci-sample that text scored better.

Measured on esci-sample (BENCHMARKS.md): hybrid + LTR re-ranking NDCG@10 0.751 vs 0.763
with MiniLM, whole-catalog retrieval 0.646 vs 0.684. Choose it with
``SHOPSENSE_SEARCH_ENCODER=static`` when cold indexing speed matters more than that.

Example::

    >>> encoder = StaticEncoder()                                      # doctest: +SKIP
    >>> vectors = encoder.encode([encoder.product_text(p) for p in products])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopsense.domain import Product
from shopsense.errors import ConfigError
from shopsense.features.text import FloatMatrix, TextEncoder, model_path, product_text
from shopsense.files import temporary_beside

log = logging.getLogger(__name__)

#: Dimensions kept by the PCA of the distilled token vectors.
STATIC_DIMENSION = 256


class StaticEncoder(TextEncoder):
    """Model2Vec static embeddings of the packaged MiniLM (256-d, L2-normalised).

    Same interface as :class:`~shopsense.features.text.TextEncoder` (``encode``,
    ``encode_query`` with its LRU cache, ``dimension``, ``product_text``); its vectors live in
    their own space, so an index built with one encoder cannot be searched with the other.
    """

    def __init__(self, cache_size: int = 10_000, model_cache: Path | None = None) -> None:
        super().__init__(cache_size=cache_size, model_cache=model_cache)

    @property
    def dimension(self) -> int:
        return STATIC_DIMENSION

    def product_text(self, product: Product) -> str:
        """Title, brand and category path (no description)."""
        return product_text(product, 0)

    def _load_model(self) -> Any:
        return _load_or_distill(self.model_cache or Path.home() / ".cache" / "shopsense")

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """``(len(texts), 256)`` L2-normalised vectors (no caching; for catalogs)."""
        if not texts:
            return np.zeros((0, STATIC_DIMENSION), np.float32)
        model = self._loaded()
        with self._encoding:  # see TextEncoder: the tokenizer is not thread-safe
            vectors = np.asarray(model.encode(list(texts), use_multiprocessing=False), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _load_or_distill(cache: Path) -> Any:
    try:
        from model2vec import StaticModel
    except ImportError as exc:
        raise ConfigError(
            "the static text encoder needs model2vec: pip install 'shopsense[search]'"
        ) from exc
    source = model_path()
    stamp = (source / "model.safetensors").stat().st_size
    target = cache / f"all-MiniLM-L6-v2-{stamp}-static{STATIC_DIMENSION}"
    if not (target / "model.safetensors").is_file():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from model2vec.distill import distill
        except ImportError as exc:
            raise ConfigError(
                "distilling the static encoder needs model2vec[distill], torch and "
                "transformers: pip install 'shopsense[search]'"
            ) from exc
        log.info("distilling the static text encoder from MiniLM (once, ~20 s)")
        model = distill(model_name=str(source), pca_dims=STATIC_DIMENSION, device="cpu")
        temporary = temporary_beside(target)
        model.save_pretrained(str(temporary))
        try:
            temporary.rename(target)
        except OSError:  # another process finished first
            shutil.rmtree(temporary, ignore_errors=True)
    return StaticModel.from_pretrained(str(target))
