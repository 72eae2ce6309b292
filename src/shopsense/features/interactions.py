"""Weighted user x item interaction matrices built from the event log.

Each event adds its kind's weight (view < click < cart < purchase, from config) to the
(user, item) cell, optionally decayed by age with a half-life. Events are streamed in
columnar batches, never loaded as Python objects.

Example::

    >>> from shopsense.store import InMemoryStore
    >>> data = InteractionData.from_events(InMemoryStore().events.iter_batches())
    >>> data.matrix.shape
    (0, 0)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.features.idmap import IdMap
from shopsense.store.base import EventBatch

MICROS_PER_DAY = 86_400 * 1_000_000


@dataclass
class InteractionData:
    """Users, items and their weighted interactions.

    ``matrix``: CSR ``(n_users, n_items)`` float32 of summed event weights.
    ``last_seen``: CSR of the same shape with the latest interaction time (epoch micros).
    """

    users: IdMap
    items: IdMap
    matrix: sp.csr_matrix
    last_seen: sp.csr_matrix

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @classmethod
    def from_events(
        cls,
        batches: Iterable[EventBatch],
        *,
        weights: Mapping[EventKind, float] | None = None,
        half_life_days: float | None = None,
        now_micros: int | None = None,
        items: Iterable[str] | None = None,
    ) -> InteractionData:
        """Aggregate event batches into weighted interactions.

        ``items``: the catalog's ids, so products without events still get a column
        (cold-start items); events on ids outside it are added after them.
        """
        weight_of = {k.value: float(w) for k, w in (weights or DEFAULT_EVENT_WEIGHTS).items()}
        user_ix: dict[str, int] = {}
        item_ix: dict[str, int] = dict.fromkeys(items or (), 0)
        for i, key in enumerate(item_ix):
            item_ix[key] = i
        rows: list[npt.NDArray[np.int64]] = []
        cols: list[npt.NDArray[np.int64]] = []
        vals: list[npt.NDArray[np.float64]] = []
        times: list[npt.NDArray[np.int64]] = []
        for batch in batches:
            w = np.array([weight_of.get(k, 0.0) for k in batch.kind], dtype=np.float64)
            keep = (w > 0) & np.array([i is not None for i in batch.item_id], dtype=bool)
            if not keep.any():
                continue
            u = np.array([user_ix.setdefault(x, len(user_ix)) for x in batch.user_id[keep]])
            it = np.array([item_ix.setdefault(x, len(item_ix)) for x in batch.item_id[keep]])
            rows.append(u)
            cols.append(it)
            vals.append(w[keep])
            times.append(batch.timestamp[keep])
        shape = (len(user_ix), len(item_ix))
        if not rows:
            empty = sp.csr_matrix(shape, dtype=np.float32)
            return cls(IdMap(user_ix), IdMap(item_ix), empty, empty.astype(np.int64))
        r, c, v, t = (np.concatenate(x) for x in (rows, cols, vals, times))
        if half_life_days:
            now = now_micros if now_micros is not None else int(t.max())
            age_days = np.maximum(now - t, 0) / MICROS_PER_DAY
            v = v * np.power(0.5, age_days / half_life_days)
        matrix = sp.csr_matrix((v.astype(np.float32), (r, c)), shape=shape)
        matrix.sum_duplicates()
        # Summing would add times; keep the latest time per cell instead.
        order = np.lexsort((t, c, r))
        r_s, c_s, t_s = r[order], c[order], t[order]
        last_mask = np.ones(len(order), dtype=bool)
        last_mask[:-1] = (r_s[1:] != r_s[:-1]) | (c_s[1:] != c_s[:-1])
        last = sp.csr_matrix((t_s[last_mask], (r_s[last_mask], c_s[last_mask])), shape=shape)
        return cls(IdMap(user_ix), IdMap(item_ix), matrix, last)

    def restrict(self, keep: sp.csr_matrix) -> InteractionData:
        """A copy whose interactions are only the non-zero cells of ``keep``."""
        mask = keep.astype(bool).astype(np.float32)
        return InteractionData(
            self.users,
            self.items,
            self.matrix.multiply(mask).tocsr(),
            self.last_seen.multiply(mask.astype(np.int64)).tocsr(),
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        sp.save_npz(directory / "matrix.npz", self.matrix)
        sp.save_npz(directory / "last_seen.npz", self.last_seen)
        ids = {"users": self.users.to_list(), "items": self.items.to_list()}
        (directory / "ids.json").write_text(json.dumps(ids))

    @classmethod
    def load(cls, directory: Path) -> InteractionData:
        ids = json.loads((directory / "ids.json").read_text())
        return cls(
            IdMap(ids["users"]),
            IdMap(ids["items"]),
            sp.load_npz(directory / "matrix.npz").tocsr(),
            sp.load_npz(directory / "last_seen.npz").tocsr(),
        )
