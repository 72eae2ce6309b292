"""The contract every recommender follows.

Models are dataclasses: hyper-parameters are the dataclass fields (no logic in
``__init__``), learned state ends in ``_``. ``fit`` returns ``self``; ``recommend`` and
``similar_items`` return ``(item_ids, scores)`` arrays, best first; ``save`` / ``load``
write JSON + npz, never pickle.

Scoring works on :class:`Histories`: what is known about a batch of shoppers at request
time (their interaction rows and ordered item sequences). A model scores its own training
histories by default; pass fresh ones (``recommend(..., history=[...])``) and a new event
changes the next answer at once, without retraining.

Example::

    >>> from shopsense.models import ALS
    >>> model = ALS().fit(data)                                              # doctest: +SKIP
    >>> item_ids, scores = model.recommend("U0001", n=10)                    # doctest: +SKIP
    >>> model.recommend("new-shopper", history=["P00012", "P00450"])         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Recommendation = tuple[npt.NDArray[np.str_], npt.NDArray[np.float32]]
#: Learned arrays with one row per training shopper (left out of serving bundles).
PER_SHOPPER_STATE = frozenset({"user_factors_"})
#: How a bundle stores learned float arrays (``Settings.bundle_precision``).
Precision = Literal["float32", "float16"]


#: Largest finite float16.
_HALF_MAX = float(np.finfo(np.float16).max)


def _halved(value: Any) -> Any:
    """A learned float32 array at half precision (kept as it is if a value would not fit)."""
    if not isinstance(value, np.ndarray) or value.dtype != np.float32:
        return value
    fits = not value.size or float(np.max(np.abs(value))) < _HALF_MAX
    return value.astype(np.float16) if fits else value


def _widened(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A float16 array (stored at half precision) as float32, anything else unchanged."""
    return array.astype(np.float32) if array.dtype == np.float16 else array


def top_k(scores: FloatArray, n: int) -> IntArray:
    """Indices of the ``n`` highest finite scores, best first (ties by lower index)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if n <= 0 or finite.size == 0:
        return np.empty(0, dtype=np.int64)
    if finite.size <= n:
        chosen = finite
    else:
        part = np.argpartition(-scores[finite], n - 1)[:n]
        chosen = finite[part]
    order = np.lexsort((chosen, -scores[chosen]))
    return chosen[order].astype(np.int64)


def interaction_input(matrix: sp.csr_matrix, binary: bool = True) -> sp.csr_matrix:
    """A float32 copy of ``matrix``; ``binary`` counts each (shopper, item) once."""
    x = matrix.astype(np.float32, copy=True)
    if binary:
        x.data[:] = 1.0
    return x


def rows_matrix(
    items: Sequence[IntArray], values: Sequence[npt.ArrayLike], n_items: int
) -> sp.csr_matrix:
    """CSR ``(len(items), n_items)`` float32: row ``r`` holds ``values[r]`` at ``items[r]``,
    repeated items summed. Built from the CSR arrays directly (a COO round trip costs more
    than the rest of a served list's scoring)."""
    if not items:
        return sp.csr_matrix((0, n_items), dtype=np.float32)
    indices, data = [], []
    for row_items, row_values in zip(items, values, strict=True):
        unique, where = np.unique(np.asarray(row_items, np.int64), return_inverse=True)
        indices.append(unique)
        weights = np.asarray(row_values, np.float64).reshape(-1)
        data.append(np.bincount(where.reshape(-1), weights, unique.size).astype(np.float32))
    indptr = np.zeros(len(indices) + 1, np.int64)
    indptr[1:] = np.cumsum([i.size for i in indices])
    return sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), indptr), shape=(len(indices), n_items)
    )


#: Up to this many rows, :func:`sparse_product` gathers the rows of the right-hand matrix
#: itself: scipy's sparse product builds several matrix objects per call, which cost more
#: than the product for the one shopper of a served list.
FEW_ROWS = 16


def _row_entries(matrix: sp.csr_matrix, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Positions in ``matrix.indices`` / ``.data`` of every entry of ``rows``, in order,
    and how many each row has ``(len(rows),)``."""
    starts = matrix.indptr[rows].astype(np.int64)
    lengths = matrix.indptr[rows + 1].astype(np.int64) - starts
    total = int(lengths.sum())
    first = np.cumsum(lengths) - lengths  # where each row's entries begin in the output
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts - first, lengths)
    return positions, lengths


def sparse_product(x: sp.csr_matrix, s: sp.csr_matrix) -> FloatArray:
    """Dense float32 ``x @ s`` ``(b, m)`` of two CSR matrices. A few rows (a served list)
    are summed from ``s``'s rows directly; many (offline evaluation) go to scipy."""
    if x.shape[0] > FEW_ROWS:
        return np.asarray((x @ s).toarray(), dtype=np.float32)
    out = np.zeros((x.shape[0], s.shape[1]), np.float32)
    for r in range(x.shape[0]):
        begin, end = x.indptr[r], x.indptr[r + 1]
        if begin == end:
            continue
        positions, lengths = _row_entries(s, x.indices[begin:end].astype(np.int64))
        weights = s.data[positions] * np.repeat(x.data[begin:end], lengths)
        out[r] = np.bincount(s.indices[positions], weights, minlength=s.shape[1])
    return out


def sparse_block(s: sp.csr_matrix, rows: IntArray, columns: IntArray) -> FloatArray:
    """Dense float32 ``s[rows][:, columns]`` ``(len(rows), len(columns))`` of a CSR matrix,
    read from its arrays (no intermediate matrices)."""
    rows, columns = np.asarray(rows, np.int64), np.asarray(columns, np.int64)
    wanted, back = np.unique(columns, return_inverse=True)
    out = np.zeros((rows.size, wanted.size), np.float32)
    if rows.size and wanted.size:
        positions, lengths = _row_entries(s, rows)
        found = s.indices[positions]
        slot = np.minimum(np.searchsorted(wanted, found), wanted.size - 1)
        hit = wanted[slot] == found
        row_of = np.repeat(np.arange(rows.size), lengths)
        where, values = (row_of[hit], slot[hit]), s.data[positions[hit]]
        if s.has_canonical_format:  # no column twice in a row: plain assignment
            out[where] = values
        else:
            np.add.at(out, where, values)
    block: FloatArray = out[:, back.reshape(-1)]
    return block


def fold_in(
    vectors: FloatArray,
    gram: npt.NDArray[np.float64],
    items: IntArray,
    confidence: npt.NDArray[np.float64],
    regularization: float,
) -> FloatArray:
    """One implicit-ALS half-step for a shopper not trained on: solve
    ``(VᵀV + Vᵀ(C - I)V + λI) u = VᵀC p`` over the item ``vectors`` (``gram`` = VᵀV), for
    engagements with ``items`` at ``confidence`` (``alpha * weight``, as ``implicit``
    trains: the paper's ``1 + alpha * weight`` without the 1)."""
    y = vectors[items].astype(np.float64)
    a = gram + (y.T * (confidence - 1.0)) @ y
    a[np.diag_indices_from(a)] += regularization
    return np.linalg.solve(a, y.T @ confidence).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Histories:
    """A batch of ``b`` shoppers as the model sees them when scoring.

    ``users``: ``(b,)`` indices into the model's users, -1 for shoppers it never trained on.
    ``matrix``: CSR ``(b, n_items)`` of weighted interactions.
    ``sequences``: ``b`` arrays of item indices in time order (consecutive repeats collapsed).
    ``fresh``: ``False`` when these are exactly the histories the model trained on, so a
    model may use what it learned per user (e.g. ALS user factors) instead of recomputing.
    ``events``: per shopper, every engagement in time order as ``(items, weights)`` (repeats
    kept), for models that weigh recent events more; ``None`` where not known.
    """

    users: IntArray
    matrix: sp.csr_matrix
    sequences: list[IntArray]
    fresh: bool
    events: list[tuple[IntArray, FloatArray]] | None = None

    def recency_matrix(self, decay: float, n_items: int) -> sp.csr_matrix:
        """CSR ``(b, n_items)``: each engagement's weight times ``decay ** k`` for the
        ``k``-th event back (the latest: 1). Without ``events``: the plain matrix."""
        if self.events is None or decay >= 1.0:
            return self.matrix
        values = [
            (weights * np.power(decay, np.arange(items.size)[::-1], dtype=np.float64)).astype(
                np.float32
            )
            for items, weights in self.events
        ]
        return rows_matrix([items for items, _ in self.events], values, n_items)

    def row(self, i: int) -> tuple[IntArray, npt.NDArray[np.float32]]:
        """Shopper ``i``'s item indices and weights, read from the CSR arrays (no new matrix)."""
        start, end = self.matrix.indptr[i], self.matrix.indptr[i + 1]
        return self.matrix.indices[start:end], self.matrix.data[start:end]

    def __len__(self) -> int:
        return int(self.users.size)

    @property
    def empty_rows(self) -> BoolArray:
        empty: BoolArray = np.diff(self.matrix.indptr) == 0
        return empty

    @classmethod
    def from_data(cls, data: InteractionData, users: IntArray, fresh: bool = True) -> Histories:
        """Rows ``users`` of ``data`` (whose item map must be the model's)."""
        users = np.asarray(users, dtype=np.int64)
        return cls(
            users=users,
            matrix=data.matrix[users],
            sequences=[data.sequence(int(u)) for u in users],
            fresh=fresh,
            events=[data.user_events(int(u)) for u in users],
        )

    @classmethod
    def from_items(
        cls, items: IntArray, weights: Sequence[float] | None, n_items: int, user: int = -1
    ) -> Histories:
        """One shopper from an ordered list of item indices (optionally weighted)."""
        items = np.asarray(items, dtype=np.int64)
        w = np.ones(items.size, np.float32) if weights is None else np.asarray(weights, np.float32)
        row = sp.csr_matrix((w, (np.zeros(items.size, np.int64), items)), shape=(1, n_items))
        row.sum_duplicates()
        keep = np.ones(items.size, dtype=bool)
        keep[1:] = items[1:] != items[:-1]
        return cls(np.array([user], np.int64), row, [items[keep]], fresh=True, events=[(items, w)])


@dataclasses.dataclass(eq=False)
class Recommender(ABC):
    """Base class: shared state (id maps, training histories, popularity) and the API."""

    name: ClassVar[str]
    #: True when scores are log-probabilities of the shopper's next engagement, comparable
    #: across shoppers (the ranker then also reads them as they are).
    log_probabilities: ClassVar[bool] = False
    #: Scores at or below this carry no evidence about an item (a tie-break, a product the
    #: model saw no data for): "similar" and "bought together" show only items above it.
    no_evidence: ClassVar[float] = 0.0

    users_: IdMap = dataclasses.field(init=False, repr=False)
    items_: IdMap = dataclasses.field(init=False, repr=False)
    train_: InteractionData = dataclasses.field(init=False, repr=False)
    item_popularity_: FloatArray = dataclasses.field(init=False, repr=False)

    # --- what each model implements -------------------------------------------------
    @abstractmethod
    def _fit(self, data: InteractionData) -> None:
        """Learn from ``data`` (the shared state is already set)."""

    @abstractmethod
    def _score(self, histories: Histories) -> FloatArray:
        """Scores of every item for each shopper, shape ``(b, n_items)``."""

    def _item_scores(self, item: int) -> FloatArray:
        """Similarity of every item to item ``item``, shape ``(n_items,)``: the cosine of
        :meth:`item_embeddings` where the model has them."""
        vectors = self.item_embeddings()
        if vectors is None:
            raise ModelError(f"{self.name} does not compute item similarity")
        norms = np.linalg.norm(vectors, axis=1) + 1e-9
        scores: FloatArray = (vectors @ (vectors[item] / norms[item])) / norms
        return scores

    def attended(self, history: Sequence[str]) -> list[tuple[str, float]] | None:
        """For a sequence model, how much each item of ``history`` (ids, oldest first)
        weighs in its next-item prediction, as ``(item id, weight)`` pairs summing to 1,
        largest first; ``None`` for models that do not attend (all others)."""
        return None

    def item_embeddings(self) -> FloatArray | None:
        """Every item's learned vector ``(n_items, d)`` (row ``i``: item index ``i``) for a
        model that embeds items (ALS, BPR, the item tower, SASRec), else ``None``. Item
        similarity, explanations and the embedding map read these."""
        return None

    def _cold_scores(self) -> FloatArray:
        """Scores for a shopper with no history at all: popularity unless overridden."""
        return self.item_popularity_

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        """Learned arrays to save (besides the shared state)."""
        return {}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:  # noqa: B027
        """Restore what :meth:`_state` returned (nothing by default)."""

    def _save_extra(self, directory: Path, training_log: bool = True) -> None:  # noqa: B027
        """Write anything that is not a plain array (sub-models); nothing by default."""

    def _load_extra(self, directory: Path) -> None:  # noqa: B027
        """Read what :meth:`_save_extra` wrote."""

    # --- the public API ---------------------------------------------------------------
    def fit(self, data: InteractionData) -> Self:
        self.__dict__.pop("_cold_cache", None)
        self.users_ = data.users
        self.items_ = data.items
        self.train_ = data
        binary = (data.matrix > 0).astype(np.float32)
        self.item_popularity_ = np.asarray(binary.sum(axis=0), dtype=np.float32).ravel()
        self._fit(data)
        return self

    @property
    def fitted(self) -> bool:
        return hasattr(self, "items_")

    def _require_fit(self) -> None:
        if not self.fitted:
            raise ModelError(f"{self.name} is not fitted; call fit() or load() first")

    def training_histories(self, users: IntArray) -> Histories:
        """The histories the model was trained on, for known user indices."""
        return Histories.from_data(self.train_, users, fresh=False)

    def score(self, histories: Histories) -> FloatArray:
        """Scores ``(b, n_items)``; shoppers with no history at all get :meth:`_cold_scores`."""
        self._require_fit()
        scores = np.asarray(self._score(histories), dtype=np.float32)
        cold = histories.empty_rows & (histories.users < 0)
        if cold.any():
            scores[cold] = self.cold_scores()
        return scores

    def cold_scores(self) -> FloatArray:
        """Scores for a shopper with no history, computed once per catalog size (a new
        shopper's first request is common: this was recomputed on each)."""
        key = len(self.items_)
        cached = self.__dict__.get("_cold_cache")
        if cached is None or cached[0] != key:
            cached = (key, np.asarray(self._cold_scores(), dtype=np.float32))
            self.__dict__["_cold_cache"] = cached
        values: FloatArray = cached[1]
        return values

    def histories_for(
        self,
        user_id: str,
        history: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
    ) -> Histories:
        """The shopper as known from training, or from ``history`` (item ids, oldest first)."""
        self._require_fit()
        user = self.users_.get(user_id)
        if history is None:
            if user is None:
                empty = sp.csr_matrix((1, len(self.items_)), dtype=np.float32)
                return Histories(np.array([-1]), empty, [np.empty(0, np.int64)], fresh=True)
            return self.training_histories(np.array([user]))
        index = self.items_.indices(list(history))
        known = index >= 0
        w = None if weights is None else np.asarray(weights, np.float32)[known]
        return Histories.from_items(
            index[known],
            None if w is None else list(w),
            len(self.items_),
            -1 if user is None else user,
        )

    def scores(
        self,
        user_id: str,
        history: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
    ) -> FloatArray:
        """Every item's score for one shopper, shape ``(n_items,)``."""
        scores: FloatArray = self.score(self.histories_for(user_id, history, weights))[0]
        return scores

    def recommend(
        self,
        user_id: str,
        n: int = 10,
        exclude_seen: bool = True,
        filter: BoolArray | None = None,
        history: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
    ) -> Recommendation:
        """The shopper's top ``n`` items, best first.

        ``history``: the shopper's item ids, oldest first, to use instead of what the model
        trained on (fresh events, a session). ``filter``: boolean mask over the model's
        items (``True`` = may be shown). Shoppers with no history get popular items.
        """
        histories = self.histories_for(user_id, history, weights)
        scores = self.score(histories)[0].copy()
        if filter is not None:
            scores[~filter] = -np.inf
        if exclude_seen:
            scores[histories.matrix.indices] = -np.inf
        best = top_k(scores, n)
        return self.items_.ids(best), scores[best].astype(np.float32)

    def similar_items(self, item_id: str, n: int = 10) -> Recommendation:
        """Items most similar to ``item_id`` (itself excluded), best first."""
        self._require_fit()
        item = self.items_.get(item_id)
        if item is None:
            raise ModelError(f"unknown product id {item_id!r} for {self.name}")
        scores = np.asarray(self._item_scores(item), dtype=np.float32).copy()
        scores[item] = -np.inf
        best = top_k(scores, n)
        return self.items_.ids(best), scores[best]

    def get_params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def half_precision_state(self) -> frozenset[str]:
        """The learned arrays (keys of the model's state) a ``float16`` save may halve:
        factors, vectors, similarities. Counts stay float32: float16 holds integers exactly
        only up to 2,048 and none above 65,504."""
        return frozenset()

    def save(
        self, directory: Path, training_log: bool = True, precision: Precision = "float32"
    ) -> None:
        """Write the model to ``directory``. ``training_log=False`` (what serving bundles
        use) keeps neither the shopper ids nor the events it was trained on, nor per-shopper
        learned vectors: the loaded model scores the histories it is given (a shopper's
        fresh events), which is all serving asks of it, and a deleted shopper has nothing
        left in the bundle. ``precision="float16"`` stores the learned float32 arrays at
        half size (those :meth:`half_precision_state` names); :meth:`load` reads them back as
        float32."""
        self._require_fit()
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"model": self.name, "params": self.get_params(), "training_log": training_log}
        (directory / "model.json").write_text(json.dumps(meta))
        train = self.train_ if training_log else self.train_.without_users()
        train.save(directory / "train")
        state = self._state()
        if not training_log:
            state = {k: v[:0] if k in PER_SHOPPER_STATE else v for k, v in state.items()}
        if precision == "float16":
            half = self.half_precision_state()
            state = {k: _halved(v) if k in half else v for k, v in state.items()}
        arrays = {"item_popularity_": self.item_popularity_, **state}
        np.savez(directory / "state.npz", **arrays)  # type: ignore[arg-type]
        self._save_extra(directory, training_log)

    @classmethod
    def load(cls, directory: Path) -> Self:
        try:
            meta = json.loads((directory / "model.json").read_text())
            if meta["model"] != cls.name:
                raise ModelError(f"{directory} holds a {meta['model']} model, not {cls.name}")
            model = cls(**meta["params"])
            train = InteractionData.load(directory / "train")
            with np.load(directory / "state.npz", allow_pickle=False) as arrays:
                state = {k: _widened(arrays[k]) for k in arrays.files}
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot load {cls.name} from {directory}: {exc}") from exc
        model._restore(train, state.pop("item_popularity_"), state)
        model._load_extra(directory)
        return model

    @classmethod
    def from_state(
        cls,
        params: dict[str, Any],
        items: IdMap,
        item_popularity: FloatArray,
        state: dict[str, npt.NDArray[Any]],
    ) -> Self:
        """A fitted model from arrays learned elsewhere (a Spark job, say): what a serving
        bundle keeps (no shoppers, no events), as :meth:`load` would read it."""
        model = cls(**params)
        model._restore(
            InteractionData.items_only(items), np.asarray(item_popularity, np.float32), state
        )
        return model

    def _restore(
        self,
        train: InteractionData,
        item_popularity: FloatArray,
        state: dict[str, npt.NDArray[Any]],
    ) -> None:
        self.users_, self.items_, self.train_ = train.users, train.items, train
        self.item_popularity_ = item_popularity
        self._set_state(state)
