"""Vector index for product embeddings: usearch HNSW, with exact search where it pays.

Vectors are L2-normalised (cosine = dot product) and keyed by the engine's integer
``row``. The index keeps a dense ``(capacity, dim)`` copy of the vectors too: small
catalogs and selective filters are answered exactly with one matrix product (faster and
exact below ~10k rows), and ranking features read a candidate's vector directly.
Adding, replacing and removing vectors never rebuilds the graph.

Example::

    >>> index = VectorIndex(dim=384)
    >>> index.upsert(np.array([0, 1]), vectors)          # doctest: +SKIP
    >>> rows, similarities = index.search(query_vector, k=10)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopsense.errors import ConfigError, ModelError

FloatMatrix = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]


class VectorIndex:
    """Cosine nearest neighbours over rows; ``exact_below`` rows are searched exactly."""

    def __init__(self, dim: int, exact_below: int = 10_000, connectivity: int = 16) -> None:
        self.dim = dim
        self.exact_below = exact_below
        self.connectivity = connectivity
        self._vectors: FloatMatrix = np.zeros((0, dim), np.float32)
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, bool)
        self._ann = self._new_ann()

    def _new_ann(self) -> object:
        from usearch.index import Index

        return Index(
            ndim=self.dim,
            metric="cos",
            dtype="f32",
            connectivity=self.connectivity,
            expansion_add=128,
            expansion_search=64,
        )

    def __len__(self) -> int:
        return int(self._alive.sum())

    @property
    def alive(self) -> npt.NDArray[np.bool_]:
        """``(capacity,)`` mask of rows holding a vector."""
        return self._alive

    def vectors(self, rows: Rows) -> FloatMatrix:
        """``(len(rows), dim)`` stored vectors (zeros for rows without one)."""
        return self._vectors[rows]

    def _grow(self, capacity: int) -> None:
        if capacity <= len(self._alive):
            return
        size = max(capacity, 2 * len(self._alive), 1024)
        vectors = np.zeros((size, self.dim), np.float32)
        vectors[: len(self._vectors)] = self._vectors
        alive = np.zeros(size, bool)
        alive[: len(self._alive)] = self._alive
        self._vectors, self._alive = vectors, alive

    def upsert(self, rows: Rows, vectors: FloatMatrix) -> None:
        """Store ``vectors`` (shape ``(len(rows), dim)``) under ``rows``, replacing old ones."""
        rows = np.asarray(rows, np.int64)
        if vectors.shape != (len(rows), self.dim):
            raise ConfigError(
                f"expected vectors of shape ({len(rows)}, {self.dim}), got {vectors.shape}"
            )
        if len(rows) == 0:
            return
        self._grow(int(rows.max()) + 1)
        replaced = rows[self._alive[rows]]
        ann = self._ann
        if len(replaced):
            ann.remove(replaced)  # type: ignore[attr-defined]
        ann.add(rows, vectors)  # type: ignore[attr-defined]
        self._vectors[rows] = vectors
        self._alive[rows] = True

    def remove(self, rows: Rows) -> None:
        rows = np.asarray(rows, np.int64)
        rows = rows[(rows < len(self._alive))]
        rows = rows[self._alive[rows]]
        if len(rows):
            self._ann.remove(rows)  # type: ignore[attr-defined]
            self._alive[rows] = False
            self._vectors[rows] = 0.0

    def search(
        self, query: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> tuple[Rows, npt.NDArray[np.float32]]:
        """The ``k`` rows most similar to ``query`` (shape ``(dim,)``), best first, with their
        cosine similarities; ``allowed`` (shape ``(capacity,)`` or shorter) restricts rows."""
        mask = self._alive
        if allowed is not None:
            mask = mask.copy()
            n = min(len(allowed), len(mask))
            mask[:n] &= allowed[:n]
            mask[n:] = False
        n_allowed = int(mask.sum()) if allowed is not None else len(self)
        if k <= 0 or n_allowed == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if n_allowed <= self.exact_below or n_allowed < 0.2 * len(self):
            return self._exact(query, k, mask)
        matches = self._ann.search(query, k if allowed is None else 4 * k)  # type: ignore[attr-defined]
        rows = np.asarray(matches.keys, np.int64)
        similarity = 1.0 - np.asarray(matches.distances, np.float32)
        if allowed is not None:
            keep = mask[rows]
            rows, similarity = rows[keep], similarity[keep]
            if len(rows) < k:
                return self._exact(query, k, mask)
        return rows[:k], similarity[:k]

    def _exact(
        self, query: npt.NDArray[np.float32], k: int, mask: npt.NDArray[np.bool_]
    ) -> tuple[Rows, npt.NDArray[np.float32]]:
        candidates = np.flatnonzero(mask)
        similarity = self._vectors[candidates] @ query
        if k < len(candidates):
            top = np.argpartition(-similarity, k)[:k]
        else:
            top = np.arange(len(candidates))
        top = top[np.argsort(-similarity[top], kind="stable")]
        return candidates[top].astype(np.int64), similarity[top].astype(np.float32)

    def similarity(self, query: npt.NDArray[np.float32], rows: Rows) -> npt.NDArray[np.float32]:
        """Cosine similarity of ``query`` to each of ``rows`` (0 for rows without a vector)."""
        result: npt.NDArray[np.float32] = self._vectors[rows] @ query
        return result

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "vectors.npy", self._vectors[: self._used()])
        np.save(directory / "alive.npy", self._alive[: self._used()])
        self._ann.save(str(directory / "ann.usearch"))  # type: ignore[attr-defined]
        meta = {"dim": self.dim, "exact_below": self.exact_below, "connectivity": self.connectivity}
        (directory / "vectors.json").write_text(json.dumps(meta))

    def _used(self) -> int:
        alive = np.flatnonzero(self._alive)
        return int(alive[-1]) + 1 if len(alive) else 0

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        from usearch.index import Index

        try:
            meta = json.loads((directory / "vectors.json").read_text())
            index = cls(meta["dim"], meta["exact_below"], meta["connectivity"])
            vectors = np.load(directory / "vectors.npy")
            alive = np.load(directory / "alive.npy")
            ann = Index.restore(str(directory / "ann.usearch"))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot read the vector index in {directory}: {exc}") from exc
        if ann is None:
            raise ModelError(f"cannot read the vector index in {directory}/ann.usearch")
        index._grow(len(alive))
        index._vectors[: len(alive)] = vectors
        index._alive[: len(alive)] = alive
        index._ann = ann
        return index
