"""Id maps: external string ids <-> contiguous integer indices.

Example::

    >>> m = IdMap(["P2", "P1"])
    >>> m.index("P1"), m.id(0)
    (1, 'P2')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt


class IdMap:
    """An ordered, immutable set of ids with O(1) lookups both ways."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._ids: list[str] = list(dict.fromkeys(ids))
        self._index = {value: i for i, value in enumerate(self._ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, value: object) -> bool:
        return value in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._ids == other._ids

    def __hash__(self) -> int:
        return hash(tuple(self._ids))

    def index(self, value: str) -> int:
        """The index of ``value``; raises ``KeyError`` when unknown."""
        return self._index[value]

    def get(self, value: str) -> int | None:
        return self._index.get(value)

    def id(self, index: int) -> str:
        return self._ids[index]

    def indices(self, values: Sequence[str]) -> npt.NDArray[np.int64]:
        """Indices of ``values``; unknown ids map to -1."""
        get = self._index.get
        return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=len(values))

    def ids(self, indices: Iterable[int] | None = None) -> npt.NDArray[np.str_]:
        """The ids at ``indices`` (all ids when omitted) as a string array."""
        if indices is None:
            return np.array(self._ids, dtype=str)
        return np.array([self._ids[int(i)] for i in indices], dtype=str)

    def to_list(self) -> list[str]:
        return list(self._ids)
