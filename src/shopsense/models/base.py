"""The contract every recommender follows.

Models are dataclasses: hyper-parameters are the dataclass fields (no logic in
``__init__``), learned state ends in ``_``. ``fit`` returns ``self``; ``recommend`` and
``similar_items`` return ``(item_ids, scores)`` arrays, best first; ``save`` / ``load``
write JSON + npz, never pickle.

Example::

    >>> from shopsense.models import Popularity
    >>> model = Popularity().fit(data)                        # doctest: +SKIP
    >>> item_ids, scores = model.recommend("U0001", n=10)     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.errors import ModelError
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Recommendation = tuple[npt.NDArray[np.str_], npt.NDArray[np.float32]]


def top_k(scores: FloatArray, n: int) -> npt.NDArray[np.int64]:
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


@dataclasses.dataclass(eq=False)
class Recommender(ABC):
    """Base class: shared state (id maps, seen items, popularity fallback) and the API."""

    name: ClassVar[str]

    users_: IdMap = dataclasses.field(init=False, repr=False)
    items_: IdMap = dataclasses.field(init=False, repr=False)
    user_items_: sp.csr_matrix = dataclasses.field(init=False, repr=False)
    item_popularity_: FloatArray = dataclasses.field(init=False, repr=False)

    # --- what each model implements -------------------------------------------------
    @abstractmethod
    def _fit(self, data: InteractionData) -> None:
        """Learn from ``data`` (the shared state is already set)."""

    @abstractmethod
    def _user_scores(self, user: int) -> FloatArray:
        """Scores of every item for the known user at index ``user``, shape ``(n_items,)``."""

    def _item_scores(self, item: int) -> FloatArray:
        """Similarity of every item to item ``item``, shape ``(n_items,)``."""
        raise ModelError(f"{self.name} does not compute item similarity")

    def _cold_scores(self) -> FloatArray:
        """Scores for a user the model does not know: popularity unless overridden."""
        return self.item_popularity_

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        """Learned arrays to save (besides the shared state)."""
        return {}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:  # noqa: B027
        """Restore what :meth:`_state` returned (nothing by default)."""

    # --- the public API ---------------------------------------------------------------
    def fit(self, data: InteractionData) -> Self:
        self.users_ = data.users
        self.items_ = data.items
        self.user_items_ = data.matrix.tocsr()
        binary = (self.user_items_ > 0).astype(np.float32)
        self.item_popularity_ = np.asarray(binary.sum(axis=0), dtype=np.float32).ravel()
        self._fit(data)
        return self

    @property
    def fitted(self) -> bool:
        return hasattr(self, "items_")

    def _require_fit(self) -> None:
        if not self.fitted:
            raise ModelError(f"{self.name} is not fitted; call fit() or load() first")

    def scores(self, user_id: str) -> FloatArray:
        """Every item's score for the user; popularity for users the model does not know."""
        self._require_fit()
        user = self.users_.get(user_id)
        if user is None:
            return np.asarray(self._cold_scores(), dtype=np.float32)
        return np.asarray(self._user_scores(user), dtype=np.float32)

    def recommend(
        self,
        user_id: str,
        n: int = 10,
        exclude_seen: bool = True,
        filter: BoolArray | None = None,
    ) -> Recommendation:
        """The user's top ``n`` items, best first.

        ``filter``: boolean mask over the model's items (``True`` = may be shown).
        Unknown users get the most popular items.
        """
        scores = self.scores(user_id).copy()
        if filter is not None:
            scores[~filter] = -np.inf
        if exclude_seen:
            user = self.users_.get(user_id)
            if user is not None:
                row = self.user_items_
                scores[row.indices[row.indptr[user] : row.indptr[user + 1]]] = -np.inf
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

    def save(self, directory: Path) -> None:
        self._require_fit()
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": self.name,
            "params": self.get_params(),
            "users": self.users_.to_list(),
            "items": self.items_.to_list(),
        }
        (directory / "model.json").write_text(json.dumps(meta))
        sp.save_npz(directory / "user_items.npz", self.user_items_)
        arrays = {"item_popularity_": self.item_popularity_, **self._state()}
        np.savez(directory / "state.npz", **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, directory: Path) -> Self:
        try:
            meta = json.loads((directory / "model.json").read_text())
            if meta["model"] != cls.name:
                raise ModelError(f"{directory} holds a {meta['model']} model, not {cls.name}")
            model = cls(**meta["params"])
            model.users_ = IdMap(meta["users"])
            model.items_ = IdMap(meta["items"])
            model.user_items_ = sp.load_npz(directory / "user_items.npz").tocsr()
            with np.load(directory / "state.npz", allow_pickle=False) as arrays:
                state = {k: arrays[k] for k in arrays.files}
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot load {cls.name} from {directory}: {exc}") from exc
        model.item_popularity_ = state.pop("item_popularity_")
        model._set_state(state)
        return model
