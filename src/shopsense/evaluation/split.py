"""Train / test splits of interaction data.

``leave_last_out``: each user's most recent item is the test target, the second most
recent the validation target; the rest is training. Users with fewer than
``min_items`` items stay entirely in training.

Example::

    >>> split = leave_last_out(data)                  # doctest: +SKIP
    >>> split.test_items[:3]                          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.features.interactions import InteractionData


@dataclass(frozen=True)
class Split:
    """Training data plus one held-out item index per user (-1: none).

    Hyper-parameters are chosen by fitting on ``train`` and scoring ``valid_items``; the
    test score comes from fitting on ``train_full`` (train + validation items).
    """

    train: InteractionData
    train_full: InteractionData
    valid_items: npt.NDArray[np.int64]
    test_items: npt.NDArray[np.int64]

    def users_with(self, items: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.flatnonzero(items >= 0).astype(np.int64)


def _latest_per_row(times: sp.csr_matrix) -> npt.NDArray[np.int64]:
    """Column of the latest entry per row (ties: the larger column), -1 for empty rows."""
    out = np.full(times.shape[0], -1, dtype=np.int64)
    for row in range(times.shape[0]):
        start, end = times.indptr[row], times.indptr[row + 1]
        if start == end:
            continue
        cols = times.indices[start:end]
        vals = times.data[start:end]
        best = np.lexsort((cols, vals))[-1]
        out[row] = cols[best]
    return out


def _without(data: InteractionData, items: npt.NDArray[np.int64]) -> InteractionData:
    users = np.flatnonzero(items >= 0)
    drop = sp.csr_matrix(
        (np.ones(users.size, dtype=np.float32), (users, items[users])), shape=data.matrix.shape
    )
    keep = data.matrix.astype(bool).astype(np.float32) - drop
    keep.eliminate_zeros()
    return data.restrict(keep.tocsr())


def leave_last_out(data: InteractionData, min_items: int = 3) -> Split:
    """Hold out each user's latest item (test) and the one before it (validation)."""
    counts = np.diff(data.matrix.indptr)
    eligible = counts >= min_items
    test = _latest_per_row(data.last_seen)
    test[~eligible] = -1
    rest = _without(data, test)
    valid = _latest_per_row(rest.last_seen)
    valid[~eligible] = -1
    train = _without(rest, valid)
    return Split(train=train, train_full=rest, valid_items=valid, test_items=test)
