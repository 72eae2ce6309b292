"""Embeddings already computed, kept on disk by text, so re-indexing encodes only what changed.

Embedding the catalog is what indexing costs (MiniLM runs ~100 product texts/s on two CPU
cores), and a server rebuilds its search index at every start. With an
:class:`EmbeddingStore` a restart, or a rebuild after a price or stock change, looks the
unchanged texts up and runs the encoder on new and edited products only.

Entries are keyed by a hash of the exact text and live in one file per encoder
(``embeddings-<encoder>.npz``), written atomically by :meth:`save`; a damaged or foreign file
is ignored (everything is then re-encoded), never trusted.

Example::

    >>> store = EmbeddingStore(data_dir / "search" / "embeddings", "minilm-384")  # doctest: +SKIP
    >>> vectors = store.encode(texts, encoder.encode)    # encodes the misses only  # doctest: +SKIP
    >>> store.save()                                                            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.files import temporary_beside

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float32]
_DIGEST = 16  # bytes of blake2b per text


def text_key(text: str) -> bytes:
    """The key of ``text`` (a 16-byte blake2b digest of its UTF-8 bytes)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST).digest()


class EmbeddingStore:
    """A persistent ``text -> vector`` map for one encoder; thread-safe."""

    def __init__(self, directory: Path, encoder_id: str, dimension: int = 384) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id)
        self.path = directory / f"embeddings-{safe}.npz"
        self.dimension = dimension
        self._lock = threading.Lock()
        self._rows: dict[bytes, int] = {}
        self._vectors = np.zeros((0, dimension), np.float32)
        self._added: list[FloatMatrix] = []
        self._added_keys: list[bytes] = []
        self._used: set[bytes] = set()
        self.hits = 0
        self.misses = 0
        self._read()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows) + len(self._added_keys)

    def encode(
        self, texts: Sequence[str], encode: Callable[[Sequence[str]], FloatMatrix]
    ) -> FloatMatrix:
        """Vectors of ``texts``: stored ones looked up, the rest from ``encode`` (and kept)."""
        keys = [text_key(t) for t in texts]
        out = np.empty((len(texts), self.dimension), np.float32)
        missing: list[int] = []
        with self._lock:
            self._used.update(keys)
            self._consolidate()
            for i, key in enumerate(keys):
                row = self._rows.get(key)
                if row is None:
                    missing.append(i)
                else:
                    out[i] = self._vectors[row]
        if missing:
            fresh = np.asarray(encode([texts[i] for i in missing]), np.float32)
            out[missing] = fresh
            with self._lock:
                for i, vector in zip(missing, fresh, strict=True):
                    if keys[i] not in self._rows:
                        self._added_keys.append(keys[i])
                        self._added.append(vector)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return out

    def save(self, prune: bool = True) -> None:
        """Write the entries (atomically: a crash leaves the previous file whole).

        ``prune``: keep only texts asked for since this store was opened (the texts of
        products since deleted or edited go), so the file follows the catalog.
        """
        with self._lock:
            self._consolidate()
            kept = [(k, r) for k, r in self._rows.items() if not prune or k in self._used]
            keys = np.frombuffer(b"".join(k for k, _ in kept), np.uint8).reshape(-1, _DIGEST)
            vectors = self._vectors[[r for _, r in kept]]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_beside(self.path)  # its own: the search build and a
        try:  # shutdown (or two servers on one data directory) may save at once
            with temporary.open("wb") as handle:
                np.savez(handle, keys=keys, vectors=vectors)
            temporary.replace(self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def _consolidate(self) -> None:
        """Move vectors added since the last call into the main array (lock held)."""
        if not self._added_keys:
            return
        start = len(self._vectors)
        self._vectors = np.concatenate([self._vectors, np.stack(self._added)])
        for offset, key in enumerate(self._added_keys):
            self._rows[key] = start + offset
        self._added, self._added_keys = [], []

    def _read(self) -> None:
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as saved:
                keys, vectors = saved["keys"], saved["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the unreadable embedding store %s: %s", self.path, exc)
            return
        if vectors.ndim != 2 or vectors.shape != (len(keys), self.dimension):
            log.warning("ignoring the embedding store %s: shape %s", self.path, vectors.shape)
            return
        if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != _DIGEST:
            log.warning("ignoring the embedding store %s: keys %s", self.path, keys.dtype)
            return
        self._vectors = np.ascontiguousarray(vectors, np.float32)
        self._rows = {k.tobytes(): i for i, k in enumerate(keys)}


class StoredEncoder:
    """An encoder whose vectors come from (and go to) an :class:`EmbeddingStore`: a text
    encoded once is never encoded again, across processes. Call :meth:`save` to keep the
    new vectors."""

    def __init__(self, encoder: Any, store: EmbeddingStore) -> None:
        self.encoder = encoder
        self.store = store

    @property
    def dimension(self) -> int:
        return int(self.encoder.dimension)

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        return self.store.encode(texts, self.encoder.encode)

    def save(self) -> None:
        self.store.save()


def encoder_id(encoder: Any) -> str:
    """Which encoder made the vectors (its backends make the same ones, its precisions not).

    fp32 keeps the id it had before precisions existed, so stores and indexes built then stay
    valid; any other precision is appended (``.../384/int8``).
    """
    name = f"{type(encoder).__module__}.{type(encoder).__qualname__}/{encoder.dimension}"
    precision = getattr(encoder, "precision", "fp32")
    return name if precision == "fp32" else f"{name}/{precision}"


def embedding_store(directory: Path, encoder: Any) -> EmbeddingStore:
    """The store of ``encoder``'s product vectors under ``directory`` (one file per encoder)."""
    return EmbeddingStore(directory, encoder_id(encoder), encoder.dimension)
