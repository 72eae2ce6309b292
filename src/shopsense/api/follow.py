"""Following what other serving processes write: their events reach this process's live
histories within a fraction of a second.

Several workers (``shopsense serve --workers N``), or several hosts on one PostgreSQL,
each keep shoppers' recent events in memory (:class:`~shopsense.recommend.RecentEvents`).
An event another process accepted is read back from the store by its sequence number:
one indexed query per period, only the rows stored since the last look. Events this
process wrote itself come back too and are skipped (histories are keyed by ``event_id``).

On PostgreSQL a sequence number can commit after a higher one (two writers at once), so a
number missing from a read is asked for again for :attr:`EventFollower.GAP_WAIT_S` seconds:
a slow transaction's events are applied late, never lost. Numbers that never appear (a
rolled-back write, a duplicate that was not stored) are forgotten after that.

Example::

    >>> from shopsense.store import InMemoryStore
    >>> store = InMemoryStore()
    >>> seen = []
    >>> follower = EventFollower(store.events, seen.extend)
    >>> follower.poll()
    0
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from shopsense.store.base import Appended, EventLog


class EventFollower:
    """Reads the events stored after a mark and hands them to ``apply``."""

    #: How long a missing sequence number is asked for again (seconds).
    GAP_WAIT_S = 5.0
    #: At most this many missing numbers are remembered (the newest).
    MAX_GAPS = 1_000

    def __init__(
        self,
        events: EventLog,
        apply: Callable[[Sequence[Appended]], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events = events
        self._apply = apply
        self._clock = clock
        #: Every event up to this sequence number was read (or is a remembered gap).
        self.mark = events.last_seq()
        self._gaps: dict[int, float] = {}

    @property
    def gaps(self) -> list[int]:
        """The missing sequence numbers still asked for."""
        return sorted(self._gaps)

    def poll(self, limit: int = 10_000) -> int:
        """Read and apply what was stored since the last poll; returns how many events."""
        now = self._clock()
        self._gaps = {seq: at for seq, at in self._gaps.items() if now - at < self.GAP_WAIT_S}
        rows = self._events.appended_since(self.mark, sorted(self._gaps), limit)
        if not rows:
            return 0
        expected = self.mark + 1
        for row in rows:
            if row.seq <= self.mark:  # a late commit of a remembered gap
                self._gaps.pop(row.seq, None)
                continue
            for missing in range(max(expected, row.seq - self.MAX_GAPS), row.seq):
                self._gaps[missing] = now
            expected = row.seq + 1
        self.mark = max(self.mark, rows[-1].seq)
        if len(self._gaps) > self.MAX_GAPS:
            self._gaps = dict(sorted(self._gaps.items())[-self.MAX_GAPS :])
        self._apply(rows)
        return len(rows)
