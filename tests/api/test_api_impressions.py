"""The background impression log (``api/impressions.py``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shopsense.api.impressions import ImpressionLog
from shopsense.domain import Event


def test_flush_waits_for_the_batch_the_writer_thread_is_storing() -> None:
    """Regression: ``flush()`` found the queue empty while the writer thread was storing
    the batch it had taken, and returned before those impressions were stored (a CI run
    counted 3 fewer stored events than served impressions)."""
    stored: list[Event] = []
    writing = threading.Event()
    release = threading.Event()

    def slow_write(events: Sequence[Event]) -> None:
        writing.set()
        release.wait(5)
        stored.extend(events)

    log = ImpressionLog(slow_write, flush_s=0.01)
    log.served("U1", None, "r1", ["P1", "P2", "P3"], [1.0, 1.0, 0.5])
    log.start()
    assert writing.wait(5), "the writer thread did not take the batch"
    done = threading.Event()

    def flush_from_request() -> None:
        log.flush()
        done.set()

    caller = threading.Thread(target=flush_from_request)
    caller.start()
    assert not done.wait(0.2), "flush returned while the batch was still being written"
    release.set()
    caller.join(5)
    assert done.is_set() and len(stored) == 3
    log.close()
    assert log.written == 3 and log.dropped == 0
