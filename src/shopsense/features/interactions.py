"""Interaction data: the positive-event log, and the matrices and sequences built from it.

Each event adds its kind's weight (view < click < cart < purchase, from config) to the
(user, item) cell, optionally decayed by age with a half-life. Events are streamed in
columnar batches, never loaded as Python objects. The log keeps every positive event in
(user, time) order, so splits can cut it and sequence models can read it.

Example::

    >>> data = InteractionData.from_sequences({"u1": ["a", "b", "c"], "u2": ["b", "c"]})
    >>> data.matrix.shape, data.items.ids(data.sequence(0)).tolist()
    ((2, 3), ['a', 'b', 'c'])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.features.idmap import IdMap
from shopsense.store.base import MICROS_PER_DAY, EventBatch

IntArray = npt.NDArray[np.int64]


@dataclass(eq=False)
class InteractionData:
    """Users, items and the log of their positive interactions.

    The log arrays all have shape ``(n_events,)`` and are sorted by (user, time):
    ``log_user`` / ``log_item`` are indices into ``users`` / ``items``, ``log_time`` is
    epoch microseconds (or any increasing order key), ``log_weight`` the event's weight.
    """

    users: IdMap
    items: IdMap
    log_user: IntArray
    log_item: IntArray
    log_time: IntArray
    log_weight: npt.NDArray[np.float32]

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_events(self) -> int:
        return int(self.log_user.size)

    # --- construction ------------------------------------------------------------------
    @classmethod
    def from_log(
        cls,
        users: IdMap,
        items: IdMap,
        user: IntArray,
        item: IntArray,
        time: IntArray,
        weight: npt.NDArray[np.floating] | None = None,
    ) -> InteractionData:
        """Build from unsorted log arrays (sorted here by user, then time, stably)."""
        order = np.lexsort((time, user))
        w = np.ones(user.size, np.float32) if weight is None else np.asarray(weight, np.float32)
        return cls(
            users,
            items,
            np.asarray(user, np.int64)[order],
            np.asarray(item, np.int64)[order],
            np.asarray(time, np.int64)[order],
            w[order],
        )

    @classmethod
    def from_events(
        cls,
        batches: Iterable[EventBatch],
        *,
        weights: Mapping[EventKind, float] | None = None,
        half_life_days: float | None = None,
        now_micros: int | None = None,
        items: Iterable[str] | None = None,
        group_by: Literal["user", "session"] = "user",
    ) -> InteractionData:
        """Aggregate event batches; kinds with weight 0 (impressions, searches) are skipped.

        ``items``: the catalog's ids, so products without events still get a column
        (cold-start items); events on ids outside it are added after them.
        ``group_by="session"`` makes each session (or basket) a row instead of each user,
        for "bought together" co-occurrence; events without a session use their user.
        """
        weight_of = {k.value: float(w) for k, w in (weights or DEFAULT_EVENT_WEIGHTS).items()}
        user_ix: dict[str, int] = {}
        item_ix: dict[str, int] = {}
        for key in items or ():
            item_ix.setdefault(key, len(item_ix))
        parts: list[tuple[IntArray, IntArray, IntArray, npt.NDArray[np.float64]]] = []
        for batch in batches:
            w = np.array([weight_of.get(k, 0.0) for k in batch.kind], dtype=np.float64)
            keep = (w > 0) & np.array([i is not None for i in batch.item_id], dtype=bool)
            if not keep.any():
                continue
            owners = batch.user_id[keep]
            if group_by == "session":
                sessions = batch.session_id[keep]
                owners = np.where(sessions == None, owners, sessions)  # noqa: E711
            u = np.array([user_ix.setdefault(x, len(user_ix)) for x in owners])
            it = np.array([item_ix.setdefault(x, len(item_ix)) for x in batch.item_id[keep]])
            parts.append((u, it, batch.timestamp[keep], w[keep]))
        if parts:
            u, it, t, w = (np.concatenate(x) for x in zip(*parts, strict=True))
        else:
            u = it = t = np.empty(0, np.int64)
            w = np.empty(0, np.float64)
        if half_life_days and t.size:
            now = now_micros if now_micros is not None else int(t.max())
            w = w * np.power(0.5, np.maximum(now - t, 0) / MICROS_PER_DAY / half_life_days)
        return cls.from_log(IdMap(user_ix), IdMap(item_ix), u, it, t, w)

    @classmethod
    def from_sequences(
        cls, sequences: Mapping[str, Sequence[str]], items: Iterable[str] | None = None
    ) -> InteractionData:
        """Ordered item lists per user (weight 1 each; the position is the time)."""
        item_ix: dict[str, int] = {}
        for key in items or ():
            item_ix.setdefault(key, len(item_ix))
        users = IdMap(sequences)
        lengths = np.array([len(s) for s in sequences.values()], dtype=np.int64)
        item = np.array(
            [item_ix.setdefault(i, len(item_ix)) for s in sequences.values() for i in s],
            dtype=np.int64,
        )
        user = np.repeat(np.arange(len(users), dtype=np.int64), lengths)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        time = np.arange(item.size, dtype=np.int64) - starts
        return cls.from_log(users, IdMap(item_ix), user, item, time)

    def subset(self, keep: npt.NDArray[np.bool_]) -> InteractionData:
        """The same users and items with only the log rows where ``keep`` is true."""
        return InteractionData(
            self.users,
            self.items,
            self.log_user[keep],
            self.log_item[keep],
            self.log_time[keep],
            self.log_weight[keep],
        )

    # --- derived views -----------------------------------------------------------------
    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """CSR ``(n_users, n_items)`` float32: summed weights per cell."""
        shape = (self.n_users, self.n_items)
        m = sp.csr_matrix((self.log_weight, (self.log_user, self.log_item)), shape=shape)
        m.sum_duplicates()
        return m

    @cached_property
    def last_seen(self) -> sp.csr_matrix:
        """CSR of the latest time per cell (log order is by time within a user)."""
        shape = (self.n_users, self.n_items)
        if self.n_events == 0:
            return sp.csr_matrix(shape, dtype=np.int64)
        key = self.log_user * max(self.n_items, 1) + self.log_item
        last = np.ones(key.size, dtype=bool)
        order = np.lexsort((self.log_time, key))
        k_sorted = key[order]
        last[:-1] = k_sorted[1:] != k_sorted[:-1]
        chosen = order[last]
        return sp.csr_matrix(
            (self.log_time[chosen], (self.log_user[chosen], self.log_item[chosen])), shape=shape
        )

    @cached_property
    def _sequences(self) -> tuple[IntArray, IntArray, IntArray]:
        """(indptr, items, position of each log row) with consecutive repeats collapsed."""
        n = self.n_events
        new = np.ones(n, dtype=bool)
        if n:
            new[1:] = (self.log_user[1:] != self.log_user[:-1]) | (
                self.log_item[1:] != self.log_item[:-1]
            )
        seq_items = self.log_item[new]
        seq_users = self.log_user[new]
        counts = np.bincount(seq_users, minlength=self.n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        global_pos = np.cumsum(new) - 1
        position = global_pos - indptr[self.log_user]
        return indptr, seq_items.astype(np.int64), position.astype(np.int64)

    @cached_property
    def _user_starts(self) -> IntArray:
        counts = np.bincount(self.log_user, minlength=self.n_users)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def user_events(self, user: int) -> tuple[IntArray, npt.NDArray[np.float32]]:
        """The user's engagements in time order, repeats kept: ``(items, weights)``."""
        start, end = self._user_starts[user], self._user_starts[user + 1]
        return self.log_item[start:end], self.log_weight[start:end]

    def sequence(self, user: int) -> IntArray:
        """The user's items in time order, consecutive repeats collapsed."""
        indptr, items, _ = self._sequences
        return items[indptr[user] : indptr[user + 1]]

    @property
    def sequence_lengths(self) -> IntArray:
        return np.diff(self._sequences[0])

    @property
    def log_position(self) -> IntArray:
        """For each log row, the index of its step in the user's collapsed sequence."""
        return self._sequences[2]

    def without_users(self) -> InteractionData:
        """The same items with no shoppers and no events (what a serving bundle keeps)."""
        return InteractionData.items_only(self.items)

    @classmethod
    def items_only(cls, items: IdMap) -> InteractionData:
        """``items`` with no shoppers and no events."""
        empty = np.empty(0, np.int64)
        return cls(IdMap([]), items, empty, empty, empty.copy(), np.empty(0, np.float32))

    # --- persistence -------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "log.npz",
            user=self.log_user,
            item=self.log_item,
            time=self.log_time,
            weight=self.log_weight,
        )
        ids = {"users": self.users.to_list(), "items": self.items.to_list()}
        (directory / "ids.json").write_text(json.dumps(ids))

    @classmethod
    def load(cls, directory: Path) -> InteractionData:
        ids = json.loads((directory / "ids.json").read_text())
        with np.load(directory / "log.npz", allow_pickle=False) as log:
            return cls(
                IdMap(ids["users"]),
                IdMap(ids["items"]),
                log["user"],
                log["item"],
                log["time"],
                log["weight"],
            )
