"""The follower of the event log: what another process stored is applied once, in order,
and a sequence number that commits late (PostgreSQL) is still applied."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from factories import event
from shopsense.api.follow import EventFollower
from shopsense.domain import EventKind
from shopsense.store import SqlStore
from shopsense.store.base import Appended

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def appended(seq: int) -> Appended:
    return Appended(seq, f"E{seq}", "U1", f"P{seq}", EventKind.VIEW, None, T0)


class Log:
    """An event log whose rows become visible when the test says (commit order)."""

    def __init__(self, visible: Sequence[int] = ()) -> None:
        self.visible = set(visible)
        self.asked: list[tuple[int, list[int]]] = []

    def last_seq(self) -> int:
        return max(self.visible, default=0)

    def appended_since(
        self, after: int, also: Sequence[int] = (), limit: int = 10_000
    ) -> list[Appended]:
        self.asked.append((after, list(also)))
        found = sorted(s for s in self.visible if s > after or s in also)
        return [appended(s) for s in found[:limit]]


def follower(log: Log, clock: list[float]) -> tuple[EventFollower, list[str]]:
    applied: list[str] = []
    made = EventFollower(
        log,  # type: ignore[arg-type]
        lambda rows: applied.extend(r.event_id for r in rows),
        clock=lambda: clock[0],
    )
    return made, applied


def test_starts_at_the_newest_event_and_applies_only_what_comes_after() -> None:
    log = Log([1, 2, 3])
    clock = [0.0]
    follow, applied = follower(log, clock)
    assert follow.poll() == 0
    log.visible |= {4, 5}
    assert follow.poll() == 2
    assert applied == ["E4", "E5"]
    assert follow.poll() == 0
    assert applied == ["E4", "E5"]


def test_a_number_that_commits_late_is_applied_when_it_does() -> None:
    log = Log([1])
    clock = [0.0]
    follow, applied = follower(log, clock)
    log.visible |= {2, 4}  # 3 is still in an open transaction
    follow.poll()
    assert applied == ["E2", "E4"]
    assert follow.gaps == [3]
    clock[0] = 1.0
    log.visible.add(3)
    follow.poll()
    assert applied == ["E2", "E4", "E3"]
    assert follow.gaps == []


def test_a_number_that_never_commits_is_forgotten() -> None:
    log = Log([1])
    clock = [0.0]
    follow, applied = follower(log, clock)
    log.visible |= {3}
    follow.poll()
    assert applied == ["E3"]
    assert follow.gaps == [2]
    clock[0] = EventFollower.GAP_WAIT_S + 1
    follow.poll()
    assert follow.gaps == []
    assert log.asked[-1] == (3, [])


def test_gaps_are_bounded() -> None:
    log = Log([1])
    clock = [0.0]
    follow, _ = follower(log, clock)
    log.visible.add(1 + 10 * EventFollower.MAX_GAPS)
    follow.poll()
    assert len(follow.gaps) == EventFollower.MAX_GAPS
    assert follow.gaps[-1] == 10 * EventFollower.MAX_GAPS


@pytest.mark.skipif(
    not os.environ.get("SHOPSENSE_TEST_POSTGRES_URL"), reason="needs the PostgreSQL test server"
)
def test_a_late_commit_on_postgresql_is_applied(postgres_url: str) -> None:
    """Two writers on PostgreSQL: the later sequence number commits first, the follower
    reads it, remembers the earlier number as missing, and applies it once it commits."""
    store = SqlStore(postgres_url)
    with store.engine.begin() as conn:
        # numbers from 1 again: earlier tests' numbers would read as gaps before the first
        conn.exec_driver_sql("TRUNCATE events, products, users, carts, forgotten RESTART IDENTITY")
    applied: list[str] = []
    follower = EventFollower(store.events, lambda rows: applied.extend(r.event_id for r in rows))
    try:
        with store.events.writer() as slow:
            slow.append([event(1)])  # numbered now, committed at the end of the block
            store.events.append([event(2, user="U2")])  # another connection: committed now
            follower.poll()
            assert applied == ["E2"]
            assert len(follower.gaps) == 1
        follower.poll()
        assert applied == ["E2", "E1"]
        assert follower.gaps == []
    finally:
        store.close()
