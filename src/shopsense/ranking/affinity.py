"""Click affinity: what shoppers who engaged with product ``h`` did when shown product ``j``.

Retrieval models learn what shoppers browse and buy together. Where what they *click when
shown* differs from what they browse (an appealing photo, a misleading one, a product that
sells only to some tastes), only the logged impressions say so. For every pair of a
product ``h`` in a shopper's recent engagements and a product ``j`` shown to them, the log
gives impressions and clicks; their shrunk log click lift over ``j``'s own click-through
rate is::

    lift[h, j] = log((clicks[h, j] + a * ctr[j]) / (shown[h, j] + a)) - log(ctr[j])

with ``a`` = :data:`PAIR_PRIOR` pseudo-impressions and ``ctr[j]`` shrunk towards the
shop's rate in the same way. 0 means "no evidence", so pairs never shown cost nothing and
are not stored. A shopper's affinity for a candidate is the mean lift over the distinct
products among their last :data:`HISTORY` engagements. The ranker reads it as one feature
(a monotone prior: more affinity never lowers the click score).

Example::

    >>> user, item = np.array([0, 0, 0, 0]), np.array([3, 5, 9, 5])   # (n,) each, time order
    >>> kind = np.array(["view", "impression", "impression", "click"])
    >>> request = np.array([-1, 1, 1, 1])
    >>> lift = click_lift(user, item, kind, request, n_items=10)
    >>> np.sign(affinity(lift, recent_items([3, 8, 3]), np.array([5, 9])))  # (2,) mean lifts
    array([ 1., -1.])
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind

#: Distinct recent engagements of the shopper that describe them.
HISTORY = 20
#: Pseudo-impressions pulling a pair's click rate towards the shown product's own rate.
PAIR_PRIOR = 20.0
#: Impressions per block when counting pairs (bounds the memory of one block).
BLOCK = 100_000
_ENGAGED = frozenset(k.value for k, w in DEFAULT_EVENT_WEIGHTS.items() if w > 0)


def recent_items(items: Sequence[int], limit: int = HISTORY) -> npt.NDArray[np.int64]:
    """The distinct products among the last engagements ``items`` (oldest first), up to
    ``limit`` of them, most recent first."""
    seen: list[int] = []
    for item in reversed(items):
        if item >= 0 and item not in seen:
            seen.append(int(item))
            if len(seen) == limit:
                break
    return np.array(seen, np.int64)


def click_lift(
    user: npt.NDArray[np.int64],
    item: npt.NDArray[np.int64],
    kind: npt.NDArray[np.str_],
    request: npt.NDArray[np.int64],
    n_items: int,
) -> sp.csr_matrix:
    """The ``(n_items, n_items)`` lift matrix (module doc) of a log given as parallel arrays
    ``(n,)`` in time order; only impressions of a logged request count (their click is a
    click on the same request and product)."""
    impression = EventKind.IMPRESSION.value
    click_kind = EventKind.CLICK.value
    clicked = {
        (int(r), int(i))
        for r, i, k in zip(request, item, kind, strict=True)
        if k == click_kind and r >= 0 and i >= 0
    }
    history: dict[int, deque[int]] = {}
    shown_rows: list[npt.NDArray[np.int64]] = []
    shown_cols: list[int] = []
    shown_clicked: list[int] = []
    blocks: list[sp.csr_matrix] = []

    def flush() -> None:
        if not shown_cols:
            return
        sizes = np.array([r.size for r in shown_rows])
        rows = np.concatenate(shown_rows)
        cols = np.repeat(np.array(shown_cols, np.int64), sizes)
        hits = np.repeat(np.array(shown_clicked, np.float64), sizes)
        shape = (n_items, n_items)
        counts = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape)
        clicks = sp.csr_matrix((hits, (rows, cols)), shape=shape)
        blocks.append(sp.vstack([counts, clicks]).tocsr())
        shown_rows.clear()
        shown_cols.clear()
        shown_clicked.clear()

    for u, i, k, r in zip(
        user.tolist(), item.tolist(), kind.tolist(), request.tolist(), strict=True
    ):
        if i < 0:
            continue
        if k == impression:
            recent = history.get(u)
            if r < 0 or not recent:
                continue
            distinct = np.unique(np.fromiter(recent, np.int64, len(recent)))
            shown_rows.append(distinct)
            shown_cols.append(i)
            shown_clicked.append(int((r, i) in clicked))
            if len(shown_cols) >= BLOCK:
                flush()
        elif k in _ENGAGED:
            recent = history.setdefault(u, deque(maxlen=HISTORY))
            if i in recent:
                recent.remove(i)
            recent.append(i)
    flush()
    if not blocks:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    both = blocks[0]
    for block in blocks[1:]:
        both = both + block
    shown, clicks = both[:n_items].tocoo(), both[n_items:].tocsr()
    per_item_shown = np.asarray(shown.sum(axis=0)).ravel()
    per_item_clicks = np.asarray(clicks.sum(axis=0)).ravel()
    base = (per_item_clicks.sum() + 1.0) / (per_item_shown.sum() + 2.0)
    ctr = (per_item_clicks + PAIR_PRIOR * base) / (per_item_shown + PAIR_PRIOR)
    pair_clicks = np.asarray(clicks[shown.row, shown.col]).ravel()
    rate = (pair_clicks + PAIR_PRIOR * ctr[shown.col]) / (shown.data + PAIR_PRIOR)
    lift = np.log(rate) - np.log(ctr[shown.col])
    return sp.csr_matrix(
        (lift.astype(np.float32), (shown.row, shown.col)), shape=(n_items, n_items)
    )


def affinity(
    lift: sp.csr_matrix, history: npt.NDArray[np.int64], candidates: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Mean lift ``(k,)`` of each candidate over the shopper's ``history`` products (see
    :func:`recent_items`); products outside the matrix count as no evidence (0)."""
    size = lift.shape[0]
    history = history[(history >= 0) & (history < size)]
    out = np.zeros(candidates.size, np.float64)
    if history.size == 0 or lift.nnz == 0:
        return out
    known = (candidates >= 0) & (candidates < size)
    # The history's rows summed into one dense row, straight from the CSR arrays (slicing
    # the matrix builds two new ones: most of the time on a served list).
    starts, ends = lift.indptr[history], lift.indptr[history + 1]
    lengths = ends - starts
    at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    total = np.bincount(lift.indices[at], weights=lift.data[at], minlength=size)
    out[known] = total[candidates[known]] / history.size
    return out


def grown(lift: sp.csr_matrix, n_items: int) -> sp.csr_matrix:
    """The same lifts for a catalog grown to ``n_items`` (new products: no evidence)."""
    if n_items <= lift.shape[0]:
        return lift
    coo = lift.tocoo()
    return sp.csr_matrix((coo.data, (coo.row, coo.col)), shape=(n_items, n_items))
