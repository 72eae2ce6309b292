"""Every list the server serves is logged: one ``impression`` per shown item, with its
position and the serving policy's propensity, written in the background.

Impressions are the server's own record (not a client's acknowledged write), so requests do
not wait for the database: lists are queued and a writer thread stores them every
``flush_s`` seconds (and at shutdown) in one transaction each. Event ids are
``imp:<request_id>:<position>``: a client that also reports the impressions of a served
list under those ids stores nothing twice. The shopper's in-memory history gains them at
once, so a product shown and not clicked counts against it on the next request.

Example::

    >>> log = ImpressionLog(store.events.append_rows, recent.add_shown) # doctest: +SKIP
    >>> log.start()                                                    # doctest: +SKIP
    >>> log.served("U1", "sess-1", request_id, ["P1", "P2"], [1.0, 0.02])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from shopsense.domain import EventKind
from shopsense.errors import ShopSenseError
from shopsense.recommend.history import RecentEvent
from shopsense.store.base import to_micros

log = logging.getLogger(__name__)
_SHOWN = EventKind.IMPRESSION


def impression_id(request_id: str, position: int) -> str:
    return f"imp:{request_id}:{position}"


class _Served(NamedTuple):
    """One served list as queued: its impressions become storage rows in the writer
    thread."""

    user_id: str
    session_id: str | None
    request_id: str
    item_ids: tuple[str, ...]
    propensities: tuple[float, ...]
    query: str | None
    timestamp: datetime

    def rows(self) -> list[tuple[object, ...]]:
        """Its impressions as storage rows (``event_row`` of each impression event)."""
        time_us = to_micros(self.timestamp)
        return [
            (
                impression_id(self.request_id, position),
                self.user_id,
                self.session_id,
                _SHOWN.value,
                item_id,
                self.query,
                self.request_id,
                position,
                float(propensity),
                None,
                None,
                time_us,
            )
            for position, (item_id, propensity) in enumerate(
                zip(self.item_ids, self.propensities, strict=True)
            )
        ]


class ImpressionLog:
    """Queues served lists as impression events; a thread writes them (see module doc).

    ``write(rows)`` stores rows of :data:`~shopsense.store.base.EVENT_COLUMNS` (the event
    log's ``append_rows``: no pydantic object per impression, which cost the serving thread
    a tenth of its time); ``remember(user_id, shown)`` (optional) gets each list's
    impressions at once as :class:`~shopsense.recommend.history.RecentEvent` s.
    ``max_queue`` counts lists.

    It also keeps the shoppers whose lists it wrote since the last :meth:`take_shoppers`
    (at most ``max_written_shoppers``, the oldest let go first): a deletion made by
    another process is followed by looking for the deleted shopper among them (see
    :meth:`~shopsense.api.state.ServingState.follow_deletions`).
    """

    def __init__(
        self,
        write: Callable[[Sequence[tuple[object, ...]]], object],
        remember: Callable[[str, Sequence[RecentEvent]], object] | None = None,
        flush_s: float = 0.5,
        max_queue: int = 10_000,
        max_written_shoppers: int = 100_000,
    ) -> None:
        self._write = write
        self._remember = remember
        self.flush_s = flush_s
        self._queue: queue.Queue[_Served] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        # one flush at a time: a flush that found the queue empty while the writer thread
        # was still storing the batch it took returned early, before those were stored
        self._flushing = threading.Lock()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        # an ordered set: shoppers written since the last take_shoppers, oldest first
        self._written_shoppers: dict[str, None] = {}
        self.max_written_shoppers = max_written_shoppers

    def served(
        self,
        user_id: str,
        session_id: str | None,
        request_id: str,
        item_ids: Sequence[str],
        propensities: Sequence[float],
        query: str | None = None,
    ) -> None:
        """Log one served list (``item_ids`` in shown order)."""
        now = datetime.now(UTC)
        if self._remember is not None:
            self._remember(
                user_id,
                [
                    RecentEvent(impression_id(request_id, i), item_id, _SHOWN, session_id, now)
                    for i, item_id in enumerate(item_ids)
                ],
            )
        listed = _Served(
            user_id, session_id, request_id, tuple(item_ids), tuple(propensities), query, now
        )
        try:
            self._queue.put_nowait(listed)
        except queue.Full:
            self.dropped += len(listed.item_ids)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, daemon=True, name="shopsense-impressions"
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write everything queued now; returns how many impressions this call wrote.

        On return, every impression queued before the call is stored (or counted dropped),
        including a batch the writer thread was storing when the call began.
        """
        with self._flushing:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        batch: list[tuple[object, ...]] = []
        shoppers: dict[str, None] = {}
        while True:
            try:
                listed = self._queue.get_nowait()
            except queue.Empty:
                break
            batch += listed.rows()
            shoppers[listed.user_id] = None
        if not batch:
            return 0
        try:
            self._write(batch)
        except ShopSenseError as exc:  # the store is down: keep serving, say so
            self.dropped += len(batch)
            log.warning("%d impressions not stored: %s", len(batch), exc)
            return 0
        self.written += len(batch)
        written = self._written_shoppers
        for user_id in shoppers:
            written.pop(user_id, None)  # moves to the newest end
            written[user_id] = None
        while len(written) > self.max_written_shoppers:
            del written[next(iter(written))]
        return len(batch)

    def take_shoppers(self) -> set[str]:
        """The shoppers with lists queued now or written since the last call, which starts
        the next count. Waits for a write in progress.

        A shopper deleted by another process is looked for here too: the in-memory
        histories may have let them go while their last lists were still queued, or were
        written after the deletion. Take them *before* reading the deletions, so that a
        list written after this call is taken by the next one.
        """
        with self._flushing:
            taken = set(self._written_shoppers)
            self._written_shoppers = {}
            with self._queue.mutex:
                taken.update(listed.user_id for listed in self._queue.queue)
            return taken

    def forget(self, user_id: str) -> int:
        """Drop the shopper's queued lists, unwritten; returns how many impressions.

        Waits for a write in progress, so once it returns nothing this log took for the
        shopper before the call can still reach the store: delete the stored events after
        it (a shopper deleted between queueing and the writer's next flush used to come
        back as the impressions of their last lists).
        """
        with self._flushing:
            kept: list[_Served] = []
            dropped = 0
            while True:
                try:
                    listed = self._queue.get_nowait()
                except queue.Empty:
                    break
                if listed.user_id == user_id:
                    dropped += len(listed.item_ids)
                else:
                    kept.append(listed)
            for listed in kept:  # fits: the queue held them all a moment ago
                self._queue.put_nowait(listed)
            return dropped

    def close(self) -> None:
        """Stop the writer after a last flush."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()
