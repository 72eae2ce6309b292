"""Training data for the ranker from the event log: every logged impression, labelled.

The log is replayed in time order. At each logged request (the impressions sharing a
``request_id``) the shopper's state is what the shop knew just before it: their earlier
events only. Each shown item becomes one row: features, the position it was shown in, the
logging policy's propensity, and three nested labels: ``click`` (a click with the same
request id), ``cart`` (that click's item added to the cart or bought later in the same
session) and ``purchase`` (bought later in the same session). Purchases are a subset of
carts, carts of clicks, as the multi-task ranker's chain assumes.

Example::

    >>> batch = EventBatch.concat(store.events.iter_batches())         # doctest: +SKIP
    >>> log, users, queries = event_arrays(batch, table)               # doctest: +SKIP
    >>> score = lambda states: sources.scores_batch(states, len(table))  # doctest: +SKIP
    >>> rows = logged_rows(log, builder, score)                        # doctest: +SKIP
    >>> rows.features.shape, rows.click.mean()                         # doctest: +SKIP
    ((81234, 31), 0.087)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from shopsense.domain import EventKind
from shopsense.ranking.features import FeatureBuilder
from shopsense.ranking.items import EventArrays, FloatArray, IntArray, ItemTable
from shopsense.ranking.shopper import ShopperState
from shopsense.store.base import EventBatch

logger = logging.getLogger(__name__)
Int8Array = npt.NDArray[np.int8]


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
    users: dict[str, int] = {}
    user = np.array([users.setdefault(u, len(users)) for u in batch.user_id[order]], np.int64)
    sessions = np.where(batch.session_id == None, batch.user_id, batch.session_id)  # noqa: E711
    log = EventArrays(
        user=user,
        item=table.indices(list(batch.item_id[order])),
        kind=np.asarray(batch.kind[order], dtype=str),
        time=batch.timestamp[order].astype(np.int64),
        session=_codes(sessions[order]),
        request=_codes(batch.request_id[order]),
        position=batch.position[order].astype(np.int64),
        propensity=batch.propensity[order].astype(np.float64),
    )
    queries = {
        int(r): str(q)
        for r, k, q in zip(log.request, log.kind, batch.query[order], strict=True)
        if k == EventKind.SEARCH.value and r >= 0 and q
    }
    return log, list(users), queries


@dataclass(frozen=True)
class LoggedRows:
    """Labelled impressions, each array ``(n,)`` except ``features`` ``(n, d)``.

    ``propensity`` is the logging policy's probability of the shown item at its position
    (NaN when the log did not say); ``user`` and ``item`` are the log's codes.
    """

    features: FloatArray
    position: IntArray
    propensity: npt.NDArray[np.float64]
    click: Int8Array
    cart: Int8Array
    purchase: Int8Array
    request: IntArray
    time: IntArray
    user: IntArray
    item: IntArray

    def __len__(self) -> int:
        return int(self.click.size)

    def select(self, keep: npt.NDArray[np.bool_] | IntArray) -> LoggedRows:
        return LoggedRows(*(getattr(self, f.name)[keep] for f in fields(LoggedRows)))

    @classmethod
    def concat(cls, parts: list[LoggedRows], n_features: int) -> LoggedRows:
        if not parts:
            empty = np.empty(0, np.int64)
            none = np.empty(0, np.int8)
            return cls(
                np.zeros((0, n_features), np.float32),
                empty,
                np.empty(0),
                none,
                none,
                none,
                empty,
                empty,
                empty,
                empty,
            )
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def label(self, task: str) -> Int8Array:
        """The ``click``, ``cart`` or ``purchase`` labels."""
        labels: Int8Array = getattr(self, task)
        return labels


def impression_labels(log: EventArrays) -> tuple[Int8Array, Int8Array, Int8Array]:
    """``(click, cart, purchase)`` labels ``(n,)`` for every event (meaningful on
    impressions): clicked in the same request; carted / bought in the same session at or
    after the impression (a purchase counts as a cart too)."""
    kind = log.kind
    clicked = {
        (int(r), int(i))
        for r, i, k in zip(log.request, log.item, kind, strict=True)
        if k == EventKind.CLICK.value and r >= 0
    }
    carted_at: dict[tuple[int, int], int] = {}
    bought_at: dict[tuple[int, int], int] = {}
    for row in np.flatnonzero(
        (kind == EventKind.ADD_TO_CART.value) | (kind == EventKind.PURCHASE.value)
    ):
        key = (int(log.session[row]), int(log.item[row]))
        # The latest time counts: an impression before it led to it.
        carted_at[key] = int(log.time[row])
        if kind[row] == EventKind.PURCHASE.value:
            bought_at[key] = int(log.time[row])
    click = np.zeros(kind.size, np.int8)
    cart = np.zeros(kind.size, np.int8)
    purchase = np.zeros(kind.size, np.int8)
    for row in np.flatnonzero(kind == EventKind.IMPRESSION.value):
        if (int(log.request[row]), int(log.item[row])) not in clicked:
            continue
        click[row] = 1
        key = (int(log.session[row]), int(log.item[row]))
        cart[row] = int(carted_at.get(key, -1) >= log.time[row])
        purchase[row] = int(bought_at.get(key, -1) >= log.time[row])
    return click, cart, purchase


@dataclass(frozen=True)
class LoggedRequest:
    """One logged list: the shopper's state just before it, the log rows of its shown
    items (in shown order), when it was served and the search query behind it, if any."""

    state: ShopperState
    rows: IntArray
    time: int
    query: str | None


def replay_requests(
    log: EventArrays,
    table: ItemTable,
    keep_user: npt.NDArray[np.bool_] | None = None,
    queries: dict[int, str] | None = None,
) -> Iterator[LoggedRequest]:
    """Every logged list of the users where ``keep_user`` (indexed by user code) is true,
    in time order, each with the state its shopper had just before it (every earlier event
    of theirs, impressions of earlier lists included)."""
    mine = np.ones(log.user.size, bool) if keep_user is None else keep_user[log.user]
    states: dict[int, ShopperState] = {}
    rows = np.flatnonzero(mine)
    n = rows.size
    k = 0
    while k < n:
        row = int(rows[k])
        user, kind = int(log.user[row]), str(log.kind[row])
        state = states.get(user)
        if state is None:
            state = states[user] = ShopperState(table.n_leaves, table.n_brands)
        if kind != EventKind.IMPRESSION.value:
            state.observe(table, int(log.item[row]), kind, int(log.time[row]))
            k += 1
            continue
        end = k + 1
        while (
            end < n
            and log.request[rows[end]] == log.request[row]
            and log.user[rows[end]] == user
            and log.kind[rows[end]] == kind
        ):
            end += 1
        group = rows[k:end]
        shown = group[log.item[group] >= 0]
        if shown.size and log.request[row] >= 0:
            order = np.argsort(log.position[shown], kind="stable")
            query = (queries or {}).get(int(log.request[row]))
            yield LoggedRequest(state.snapshot(), shown[order], int(log.time[row]), query)
        for r in group:  # the shopper saw them: later requests know it
            state.observe(table, int(log.item[r]), kind, int(log.time[r]))
        k = end


#: Scores every item for a batch of shoppers: ``{source: (b, n_items)}``.
ScoreBatch = Callable[[list[ShopperState]], dict[str, FloatArray]]


def logged_rows(
    log: EventArrays,
    builder: FeatureBuilder,
    scores_batch: ScoreBatch,
    keep_user: npt.NDArray[np.bool_] | None = None,
    queries: dict[int, str] | None = None,
    batch_size: int = 256,
) -> LoggedRows:
    """Feature rows for the logged impressions of the users where ``keep_user`` (indexed
    by user code) is true, all users by default.

    Every earlier event of the user builds the state each request is described with.
    ``queries`` maps request codes to the search query that produced the list, if any.
    """
    click, cart, purchase = impression_labels(log)
    pending: list[LoggedRequest] = []
    blocks: list[FloatArray] = []
    picked: list[IntArray] = []

    def flush() -> None:
        block = scores_batch([p.state for p in pending])
        for b, request in enumerate(pending):
            scores = {name: values[b] for name, values in block.items()}
            items = log.item[request.rows]
            blocks.append(builder.build(request.state, items, scores, request.time, request.query))
            picked.append(request.rows)
        pending.clear()

    for request in replay_requests(log, builder.table, keep_user, queries):
        pending.append(request)
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    chosen = np.concatenate(picked) if picked else np.empty(0, np.int64)
    features = np.concatenate(blocks) if blocks else np.zeros((0, builder.n_features), np.float32)
    logger.info("built %d ranking rows from %d logged events", chosen.size, len(log))
    return LoggedRows(
        features=features,
        position=np.maximum(log.position[chosen], 0),
        propensity=log.propensity[chosen],
        click=click[chosen],
        cart=cart[chosen],
        purchase=purchase[chosen],
        request=log.request[chosen],
        time=log.time[chosen],
        user=log.user[chosen],
        item=log.item[chosen],
    )
