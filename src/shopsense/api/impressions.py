"""Every list the server serves is logged: one ``impression`` per shown item, with its
position and the serving policy's propensity, written in the background.

Impressions are the server's own record (not a client's acknowledged write), so requests do
not wait for the database: lists are queued and a writer thread stores them every
``flush_s`` seconds (and at shutdown) in one transaction each. Event ids are
``imp:<request_id>:<position>``: a client that also reports the impressions of a served
list under those ids stores nothing twice. The shopper's in-memory history gains them at
once, so a product shown and not clicked counts against it on the next request.

Example::

    >>> log = ImpressionLog(store.events.append, recent.add)           # doctest: +SKIP
    >>> log.start()                                                    # doctest: +SKIP
    >>> log.served("U1", "sess-1", request_id, ["P1", "P2"], [1.0, 0.02])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from shopsense.domain import Event, EventKind
from shopsense.errors import ShopSenseError

log = logging.getLogger(__name__)


def impression_id(request_id: str, position: int) -> str:
    return f"imp:{request_id}:{position}"


class ImpressionLog:
    """Queues served lists as impression events; a thread writes them (see module doc)."""

    def __init__(
        self,
        write: Callable[[Sequence[Event]], object],
        remember: Callable[[Sequence[Event]], object] | None = None,
        flush_s: float = 0.5,
        max_queue: int = 100_000,
    ) -> None:
        self._write = write
        self._remember = remember
        self.flush_s = flush_s
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        # one flush at a time: a flush that found the queue empty while the writer thread
        # was still storing the batch it took returned early, before those were stored
        self._flushing = threading.Lock()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0

    def served(
        self,
        user_id: str,
        session_id: str | None,
        request_id: str,
        item_ids: Sequence[str],
        propensities: Sequence[float],
        query: str | None = None,
    ) -> list[Event]:
        """Log one served list (``item_ids`` in shown order); returns its impressions."""
        now = datetime.now(UTC)
        events = [
            Event.model_construct(
                event_id=impression_id(request_id, position),
                user_id=user_id,
                session_id=session_id,
                kind=EventKind.IMPRESSION,
                item_id=item_id,
                query=query,
                request_id=request_id,
                position=position,
                propensity=float(propensity),
                quantity=None,
                price=None,
                timestamp=now,
            )
            for position, (item_id, propensity) in enumerate(
                zip(item_ids, propensities, strict=True)
            )
        ]
        if self._remember is not None:
            self._remember(events)
        for event in events:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self.dropped += 1
        return events

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
        batch: list[Event] = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return 0
        try:
            self._write(batch)
        except ShopSenseError as exc:  # the store is down: keep serving, say so
            self.dropped += len(batch)
            log.warning("%d impressions not stored: %s", len(batch), exc)
            return 0
        self.written += len(batch)
        return len(batch)

    def close(self) -> None:
        """Stop the writer after a last flush."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()
