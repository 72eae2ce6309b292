"""Each active shopper's recent events, in memory, so a new event changes the next answer.

The store stays the source of truth: a shopper's history is read from it on first use and
kept (least recently used first out); events the API has committed are added at once.
Models then score the fresh history instead of what they saw at training time.

Example::

    >>> from shopsense.domain import Event
    >>> stored = {"u1": [Event(event_id="e1", user_id="u1", kind="view", item_id="p1",
    ...                        timestamp="2026-01-05T10:00:00Z")]}
    >>> recent = RecentEvents(lambda user, limit: stored.get(user, []))
    >>> recent.add([Event(event_id="e2", user_id="u1", kind="purchase", item_id="p2",
    ...                   timestamp="2026-01-05T10:01:00Z")])
    >>> [e.item_id for e in recent.get("u1")]
    ['p1', 'p2']
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shopsense.domain import Event, EventKind

LoadHistory = Callable[[str, int], list[Event]]


@dataclass
class _Shopper:
    events: list[Event] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class RecentEvents:
    """The last ``per_user`` relevant events of up to ``max_users`` shoppers, oldest first.

    ``relevant`` picks the events worth keeping (e.g. those with a positive weight, so a
    flood of impressions does not push the shopper's purchases out); default all. On first
    use the last ``scan * per_user`` stored events are read and filtered.
    """

    def __init__(
        self,
        load: LoadHistory,
        per_user: int = 50,
        max_users: int = 50_000,
        relevant: Callable[[Event], bool] | None = None,
        scan: int = 20,
    ) -> None:
        self.scan = scan
        self._load = load
        self._relevant = relevant or (lambda event: True)
        self.per_user = per_user
        self.max_users = max_users
        self._lock = threading.Lock()
        self._shoppers: OrderedDict[str, _Shopper] = OrderedDict()

    def __len__(self) -> int:
        return len(self._shoppers)

    def get(self, user_id: str) -> list[Event]:
        """The shopper's recent events, oldest first (read from the store on first use)."""
        with self._lock:
            shopper = self._shoppers.get(user_id)
            if shopper is None:
                # Loading under the lock: an event committed meanwhile cannot be missed.
                loaded = self._load(user_id, self.scan * self.per_user)
                events = [e for e in loaded if self._relevant(e)][-self.per_user :]
                shopper = _Shopper(events, {e.event_id for e in events})
                self._shoppers[user_id] = shopper
                while len(self._shoppers) > self.max_users:
                    self._shoppers.popitem(last=False)
            else:
                self._shoppers.move_to_end(user_id)
            return list(shopper.events)

    def add(self, events: Sequence[Event]) -> None:
        """Add committed events; shoppers not in memory read them from the store later."""

        with self._lock:
            for event in events:
                shopper = self._shoppers.get(event.user_id)
                if shopper is None or event.event_id in shopper.ids or not self._relevant(event):
                    continue
                keys = [e.timestamp for e in shopper.events]
                shopper.events.insert(bisect.bisect_right(keys, event.timestamp), event)
                shopper.ids.add(event.event_id)
                if len(shopper.events) > self.per_user:
                    dropped = shopper.events.pop(0)
                    shopper.ids.discard(dropped.event_id)

    def forget(self, user_id: str) -> None:
        """Drop the shopper from memory (privacy deletion)."""
        with self._lock:
            self._shoppers.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._shoppers.clear()


def item_history(
    events: Sequence[Event], weights: Mapping[EventKind, float]
) -> tuple[list[str], list[float]]:
    """Item ids (oldest first) and their weights, for kinds with a positive weight."""
    items: list[str] = []
    item_weights: list[float] = []
    for event in events:
        weight = weights.get(event.kind, 0.0)
        if event.item_id is not None and weight > 0:
            items.append(event.item_id)
            item_weights.append(weight)
    return items, item_weights


def current_session(events: Sequence[Event]) -> list[Event]:
    """The events of the shopper's latest session (all events when none carry a session)."""
    if not events:
        return []
    last = events[-1].session_id
    if last is None:
        return list(events)
    return [e for e in events if e.session_id == last]
