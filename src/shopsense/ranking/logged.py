"""Training data for the ranker from the event log: every logged impression, labelled.

The log is replayed in time order. At each logged request (the impressions sharing a
``request_id``) the shopper's state is what the shop knew just before it: their earlier
events only. Each shown item becomes one row: features, the position it was shown in,
``click`` (a click with the same request id) and ``purchase`` (that click's item bought
later in the same session). Purchases are therefore a subset of clicks, as ESMM assumes.

Example::

    >>> log, users, queries = event_arrays(EventBatch.concat(store.events.iter_batches()), table)
    >>> rows = logged_rows(log, builder, sources, since_us=cutoff)      # doctest: +SKIP
    >>> rows.features.shape, rows.click.mean()                          # doctest: +SKIP
    ((81234, 25), 0.087)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopsense.domain import EventKind
from shopsense.ranking.features import (
    EventArrays,
    FeatureBuilder,
    FloatArray,
    IntArray,
    ItemTable,
    ShopperState,
)
from shopsense.ranking.stack import RetrievalSources
from shopsense.store.base import EventBatch

logger = logging.getLogger(__name__)


def _codes(values: npt.NDArray[np.object_]) -> IntArray:
    """Dense int codes of an object column; ``None`` becomes -1."""
    codes: dict[object, int] = {}
    return np.array(
        [-1 if v is None else codes.setdefault(v, len(codes)) for v in values], np.int64
    )


def event_arrays(
    batch: EventBatch, table: ItemTable
) -> tuple[EventArrays, list[str], dict[int, str]]:
    """The log as index arrays sorted by time (stable), the user ids by user code, and the
    query of each request code that a search produced.

    Events on items outside ``table`` keep ``item = -1``.
    """
    order = np.argsort(batch.timestamp, kind="stable")
    index = {item: i for i, item in enumerate(table.item_ids)}
    users: dict[str, int] = {}
    user = np.array([users.setdefault(u, len(users)) for u in batch.user_id[order]], np.int64)
    item = np.array([index.get(i, -1) if i is not None else -1 for i in batch.item_id[order]])
    sessions = np.where(batch.session_id == None, batch.user_id, batch.session_id)  # noqa: E711
    log = EventArrays(
        user=user,
        item=item.astype(np.int64),
        kind=np.asarray(batch.kind[order], dtype=str),
        time=batch.timestamp[order].astype(np.int64),
        session=_codes(sessions[order]),
        request=_codes(batch.request_id[order]),
        position=batch.position[order].astype(np.int64),
    )
    queries = {
        int(r): str(q)
        for r, k, q in zip(log.request, log.kind, batch.query[order], strict=True)
        if k == EventKind.SEARCH.value and r >= 0 and q
    }
    return log, list(users), queries


def subset(log: EventArrays, keep: npt.NDArray[np.bool_]) -> EventArrays:
    """The rows of ``log`` where ``keep`` ``(n,)`` is true."""
    return EventArrays(*(getattr(log, f)[keep] for f in EventArrays.__dataclass_fields__))


@dataclass(frozen=True)
class LoggedRows:
    """Labelled impressions, each array ``(n,)`` except ``features`` ``(n, d)``."""

    features: FloatArray
    position: IntArray
    click: npt.NDArray[np.int8]
    purchase: npt.NDArray[np.int8]
    request: IntArray
    time: IntArray

    def __len__(self) -> int:
        return int(self.click.size)

    def select(self, keep: npt.NDArray[np.bool_]) -> LoggedRows:
        return LoggedRows(*(getattr(self, f)[keep] for f in LoggedRows.__dataclass_fields__))


def impression_labels(log: EventArrays) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """``(click, purchase)`` labels ``(n,)`` for every event (meaningful on impressions)."""
    kind = log.kind
    clicked = {
        (int(r), int(i))
        for r, i, k in zip(log.request, log.item, kind, strict=True)
        if k == EventKind.CLICK.value and r >= 0
    }
    bought_at: dict[tuple[int, int], int] = {}
    for s, i, k, t in zip(log.session, log.item, kind, log.time, strict=True):
        if k == EventKind.PURCHASE.value:
            bought_at.setdefault((int(s), int(i)), int(t))
    click = np.zeros(kind.size, np.int8)
    purchase = np.zeros(kind.size, np.int8)
    for row in np.flatnonzero(kind == EventKind.IMPRESSION.value):
        key = (int(log.request[row]), int(log.item[row]))
        if key in clicked:
            click[row] = 1
            bought = bought_at.get((int(log.session[row]), int(log.item[row])))
            purchase[row] = int(bought is not None and bought >= log.time[row])
    return click, purchase


def logged_rows(
    log: EventArrays,
    builder: FeatureBuilder,
    sources: RetrievalSources,
    since_us: int,
    until_us: int | None = None,
    queries: dict[int, str] | None = None,
    batch_size: int = 256,
) -> LoggedRows:
    """Feature rows for the impressions logged in ``[since_us, until_us)``.

    Every earlier event (also those before ``since_us``) builds the shoppers' states.
    ``queries`` maps request codes to the search query that produced the list, if any.
    """
    table = builder.table
    click, purchase = impression_labels(log)
    states: dict[int, ShopperState] = {}
    pending: list[tuple[ShopperState, IntArray, int, str | None]] = []
    blocks: list[FloatArray] = []
    rows: list[int] = []
    until = np.iinfo(np.int64).max if until_us is None else until_us

    def flush() -> None:
        block = sources.scores_batch([p[0] for p in pending])
        for b, (state, shown, t, query) in enumerate(pending):
            scores = {name: values[b] for name, values in block.items()}
            blocks.append(builder.build(state, log.item[shown], scores, t, query))
            rows.extend(shown.tolist())
        pending.clear()

    n = log.kind.size
    row = 0
    while row < n:
        user, kind = int(log.user[row]), str(log.kind[row])
        state = states.get(user)
        if state is None:
            state = states[user] = ShopperState(table.n_leaves, table.n_brands)
        if kind != EventKind.IMPRESSION.value:
            state.observe(table, int(log.item[row]), kind, int(log.time[row]))
            row += 1
            continue
        end = row + 1
        while end < n and log.request[end] == log.request[row] and log.kind[end] == kind:
            end += 1
        shown = np.arange(row, end)[log.item[row:end] >= 0]
        t = int(log.time[row])
        if since_us <= t < until and shown.size:
            query = (queries or {}).get(int(log.request[row]))
            pending.append((state.snapshot(), shown, t, query))
            if len(pending) >= batch_size:
                flush()
        row = end
    if pending:
        flush()
    picked = np.asarray(rows, np.int64)
    features = np.concatenate(blocks) if blocks else np.zeros((0, builder.n_features), np.float32)
    logger.info("built %d ranking rows from %d logged impressions", picked.size, n)
    return LoggedRows(
        features=features,
        position=np.maximum(log.position[picked], 0),
        click=click[picked],
        purchase=purchase[picked],
        request=log.request[picked],
        time=log.time[picked],
    )
