"""Each active shopper's recent events, in memory, so a new event changes the next answer.

The store stays the source of truth: a shopper's history is read from it on first use and
kept (least recently used first out); events the API has committed are added at once.
Models then score the fresh history instead of what they saw at training time.

Histories are kept as a few columns per shopper rather than one pydantic ``Event`` each:
tens of thousands of shoppers x 50 events would otherwise be millions of objects that every
full garbage collection walks while requests wait (a 200 ms stall at 450k objects on the
2-core benchmark machine). ``get`` hands out light :class:`RecentEvent` tuples.

Example::

    >>> from shopsense.domain import Event
    >>> stored = {"u1": [Event(event_id="e1", user_id="u1", kind="view", item_id="p1",
    ...                        timestamp="2026-01-05T10:00:00Z")]}
    >>> recent = RecentEvents(lambda user, limit: stored.get(user, []))
    >>> [e.item_id for e in recent.get("u1")]   # read from the store on first use
    ['p1']
    >>> recent.add([Event(event_id="e2", user_id="u1", kind="purchase", item_id="p2",
    ...                   timestamp="2026-01-05T10:01:00Z")])
    >>> [e.item_id for e in recent.get("u1")]
    ['p1', 'p2']
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, TypeVar

from cachetools import LRUCache

from shopsense.domain import Event, EventKind
from shopsense.store.base import to_micros

LoadHistory = Callable[[str, int], list[Event]]


class EventLike(Protocol):
    """What history readers use of an event: an :class:`Event` or a :class:`RecentEvent`."""

    @property
    def event_id(self) -> str: ...
    @property
    def item_id(self) -> str | None: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def timestamp(self) -> datetime: ...


class UserEventLike(EventLike, Protocol):
    """An event with its shopper: an :class:`Event`, or one read back from the store by a
    follower of the log (:class:`~shopsense.store.base.Appended`)."""

    @property
    def user_id(self) -> str: ...


E = TypeVar("E", bound=EventLike)


class RecentEvent(NamedTuple):
    """One event of a shopper's in-memory history (the fields recommendations read)."""

    event_id: str
    item_id: str | None
    kind: EventKind
    session_id: str | None
    timestamp: datetime


class _Shopper:
    """One shopper's events as parallel columns, oldest first (a handful of objects)."""

    __slots__ = ("event_ids", "ids", "impressions", "item_ids", "kinds", "sessions", "timestamps")

    def __init__(self, events: Iterable[EventLike] = ()) -> None:
        self.event_ids: list[str] = []
        self.item_ids: list[str | None] = []
        self.kinds: list[EventKind] = []
        self.sessions: list[str | None] = []
        self.timestamps: list[datetime] = []
        self.ids: set[str] = set()
        self.impressions = 0  # how many of the kinds are impressions (kept, not counted)
        for event in events:
            self.insert(len(self.event_ids), event)

    def __len__(self) -> int:
        return len(self.event_ids)

    def insert(self, at: int, e: EventLike) -> None:
        self.event_ids.insert(at, e.event_id)
        self.item_ids.insert(at, e.item_id)
        self.kinds.insert(at, e.kind)
        self.sessions.insert(at, e.session_id)
        self.timestamps.insert(at, e.timestamp)
        self.ids.add(e.event_id)
        self.impressions += e.kind is EventKind.IMPRESSION

    def drop_oldest(self, impressions: bool) -> None:
        """Drop the oldest impression (or the oldest other event)."""
        at = next(i for i, k in enumerate(self.kinds) if (k is EventKind.IMPRESSION) == impressions)
        self.ids.discard(self.event_ids.pop(at))
        self.impressions -= impressions
        for column in (self.item_ids, self.kinds, self.sessions, self.timestamps):
            column.pop(at)

    def count(self, impressions: bool) -> int:
        return self.impressions if impressions else len(self.kinds) - self.impressions

    def events(self) -> list[RecentEvent]:
        return list(
            map(
                RecentEvent,
                self.event_ids,
                self.item_ids,
                self.kinds,
                self.sessions,
                self.timestamps,
            )
        )


class RecentEvents:
    """The last ``per_user`` relevant events and the last ``impressions_per_user``
    impressions of up to ``max_users`` shoppers, oldest first.

    ``relevant`` picks the other events worth keeping (e.g. those with a positive weight);
    impressions have their own budget, so a flood of them never pushes the shopper's
    purchases out. On first use the last ``scan * (per_user + impressions_per_user)`` stored
    events are read and filtered; with ``load_impressions`` (a loader of impressions only),
    ``load`` is asked for the last ``scan * per_user`` other events and ``load_impressions``
    for the last ``impressions_per_user`` impressions, so a shopper shown many lists since
    their last click still gets that click back from the store.
    """

    def __init__(
        self,
        load: LoadHistory,
        per_user: int = 50,
        max_users: int = 50_000,
        relevant: Callable[[EventLike], bool] | None = None,
        scan: int = 20,
        impressions_per_user: int = 0,
        load_impressions: LoadHistory | None = None,
    ) -> None:
        self.scan = scan
        self._load = load
        self._load_impressions = load_impressions
        self._relevant = relevant or (lambda event: True)
        self.per_user = per_user
        self.impressions_per_user = impressions_per_user
        self.max_users = max_users
        self._lock = threading.Lock()
        self._shoppers: LRUCache[str, _Shopper] = LRUCache(maxsize=max(max_users, 0))

    def __len__(self) -> int:
        return len(self._shoppers)

    def get(self, user_id: str) -> list[RecentEvent]:
        """The shopper's recent events, oldest first (read from the store on first use)."""
        with self._lock:
            shopper = self._shoppers.get(user_id)
            if shopper is None:
                # Loading under the lock: an event committed meanwhile cannot be missed.
                shopper = _Shopper(self._stored(user_id))
                for impressions in (False, True):
                    while shopper.count(impressions) > self._budget(impressions):
                        shopper.drop_oldest(impressions)
                if self._shoppers.maxsize:  # the least recently used shopper goes
                    self._shoppers[user_id] = shopper
            return shopper.events()

    def add(self, events: Sequence[UserEventLike]) -> None:
        """Add committed events; shoppers not in memory read them from the store later.
        An event already held (the same ``event_id``) is not added twice."""

        with self._lock:
            for event in events:
                shopper = self._shoppers.get(event.user_id)  # counts as a use, as in get()
                if shopper is not None:
                    self._insert(shopper, event)

    def add_shown(self, user_id: str, events: Sequence[EventLike]) -> None:
        """Add one shopper's events (the impressions of a list just served to them)."""
        with self._lock:
            shopper = self._shoppers.get(user_id)
            if shopper is not None:
                for event in events:
                    self._insert(shopper, event)

    def _insert(self, shopper: _Shopper, event: EventLike) -> None:
        if event.event_id in shopper.ids or not self._keeps(event):
            return
        at = bisect.bisect_right(shopper.timestamps, event.timestamp)
        shopper.insert(at, event)
        impression = event.kind is EventKind.IMPRESSION
        if shopper.count(impression) > self._budget(impression):
            shopper.drop_oldest(impression)

    def _stored(self, user_id: str) -> list[Event]:
        """The shopper's stored events worth keeping, oldest first."""
        if self._load_impressions is None or not self.impressions_per_user:
            budget = self.per_user + self.impressions_per_user
            return [e for e in self._load(user_id, self.scan * budget) if self._keeps(e)]
        others = [e for e in self._load(user_id, self.scan * self.per_user) if self._keeps(e)]
        shown = self._load_impressions(user_id, self.impressions_per_user)
        return list(heapq.merge(others, shown, key=lambda e: e.timestamp))

    def _keeps(self, event: EventLike) -> bool:
        if event.kind is EventKind.IMPRESSION:
            return self.impressions_per_user > 0
        return self._relevant(event)

    def _budget(self, impressions: bool) -> int:
        return self.impressions_per_user if impressions else self.per_user

    def user_ids(self) -> list[str]:
        """The shoppers in memory now."""
        with self._lock:
            return list(self._shoppers)

    def forget(self, user_id: str) -> None:
        """Drop the shopper from memory (privacy deletion)."""
        with self._lock:
            self._shoppers.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._shoppers.clear()


def item_history(
    events: Sequence[EventLike], weights: Mapping[EventKind, float]
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


def history_triples(events: Sequence[EventLike]) -> list[tuple[str | None, str, int]]:
    """``(item_id, kind, time_us)`` of each event, as the stack builds a shopper's state."""
    return [(e.item_id, e.kind.value, to_micros(e.timestamp)) for e in events]


def current_session(events: Sequence[E]) -> list[E]:
    """The events of the shopper's latest session (all events when none carry a session)."""
    if not events:
        return []
    last = events[-1].session_id
    if last is None:
        return list(events)
    return [e for e in events if e.session_id == last]
