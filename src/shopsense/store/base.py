"""Narrow storage interfaces: the catalog, the event log and the artifact store.

Backends: SQL (SQLite by default, PostgreSQL by URL) in :mod:`shopsense.store.sql`, and
in-memory fakes for tests in :mod:`shopsense.store.memory`. Both pass the same contract
tests (``tests/store/test_contract.py``).

Reads of events are columnar and streamed (:class:`EventBatch`): millions of events are
never held as Python objects at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from shopsense.domain import Event, EventKind, Product

EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "session_id",
    "kind",
    "item_id",
    "query",
    "request_id",
    "position",
    "propensity",
    "quantity",
    "price",
    "timestamp",
)


#: Microseconds in a day: event days are ``timestamp // MICROS_PER_DAY`` (UTC).
MICROS_PER_DAY = 86_400 * 1_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """UTC epoch microseconds: how timestamps are stored (portable, exact and sortable)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


@dataclass(frozen=True)
class EventBatch:
    """A slice of the event log as columns, in storage order.

    String columns are object arrays (``None`` where absent); ``timestamp`` is int64 UTC
    epoch microseconds; ``position`` / ``quantity`` are int64 with -1 for absent;
    ``price`` and ``propensity`` are float64 with NaN for absent. All arrays have shape ``(n,)``.
    """

    event_id: npt.NDArray[np.object_]
    user_id: npt.NDArray[np.object_]
    session_id: npt.NDArray[np.object_]
    kind: npt.NDArray[np.object_]
    item_id: npt.NDArray[np.object_]
    query: npt.NDArray[np.object_]
    request_id: npt.NDArray[np.object_]
    position: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float64]
    quantity: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    timestamp: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.event_id)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[object]]) -> EventBatch:
        """Build from rows ordered as :data:`EVENT_COLUMNS` (timestamps in microseconds)."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(EVENT_COLUMNS)
        data = dict(zip(EVENT_COLUMNS, columns, strict=True))

        def ints(name: str) -> npt.NDArray[np.int64]:
            return np.array([-1 if v is None else v for v in data[name]], dtype=np.int64)

        def floats(name: str) -> npt.NDArray[np.float64]:
            return np.array([np.nan if v is None else v for v in data[name]], dtype=np.float64)

        def objs(name: str) -> npt.NDArray[np.object_]:
            out = np.empty(len(data[name]), dtype=object)
            out[:] = data[name]
            return out

        return cls(
            event_id=objs("event_id"),
            user_id=objs("user_id"),
            session_id=objs("session_id"),
            kind=objs("kind"),
            item_id=objs("item_id"),
            query=objs("query"),
            request_id=objs("request_id"),
            position=ints("position"),
            propensity=floats("propensity"),
            quantity=ints("quantity"),
            price=floats("price"),
            timestamp=np.array(data["timestamp"], dtype=np.int64),
        )

    @classmethod
    def concat(cls, batches: Iterable[EventBatch]) -> EventBatch:
        parts = list(batches)
        if not parts:
            return cls.from_rows([])
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in parts]) for f in fields(cls)}
        )


def event_row(event: Event) -> tuple[object, ...]:
    """An event as a storage row ordered as :data:`EVENT_COLUMNS`."""
    return (
        event.event_id,
        event.user_id,
        event.session_id,
        event.kind.value,
        event.item_id,
        event.query,
        event.request_id,
        event.position,
        event.propensity,
        event.quantity,
        event.price,
        to_micros(event.timestamp),
    )


def event_from_row(row: Sequence[Any]) -> Event:
    """The :class:`Event` of a storage row (the inverse of :func:`event_row`)."""
    data = dict(zip(EVENT_COLUMNS, row, strict=True))
    data["kind"] = EventKind(data["kind"])
    data["timestamp"] = from_micros(int(data["timestamp"]))
    return Event.model_construct(**data)


class Appended(NamedTuple):
    """An event as a follower of the log reads it (:meth:`EventLog.appended_since`): the
    fields a shopper's live history needs, without building an :class:`Event`."""

    seq: int
    event_id: str
    user_id: str
    item_id: str | None
    kind: EventKind
    session_id: str | None
    timestamp: datetime


def same_event(stored: Sequence[object], event: Event) -> bool:
    """Whether a stored row (:data:`EVENT_COLUMNS`) is ``event`` sent again: every field
    but the timestamp agrees (a retry of an event the server timestamped differs only
    there)."""
    return tuple(stored[:-1]) == event_row(event)[:-1]


class CatalogWriter(Protocol):
    def upsert(self, products: Sequence[Product]) -> None: ...


class EventWriter(Protocol):
    def append(self, events: Sequence[Event]) -> int:
        """Store events whose ``event_id`` is new; return how many were new."""
        ...

    def conflicts(self, events: Sequence[Event]) -> list[int]:
        """Positions in ``events`` whose ``event_id`` is stored (or staged by this writer)
        for a different event (:func:`same_event`): a client reusing an id, which
        ``append`` would otherwise drop without a word."""
        ...


class Catalog(Protocol):
    """The products of the shop, keyed by id."""

    def writer(self) -> AbstractContextManager[CatalogWriter]:
        """One transaction: everything written through it lands together or not at all."""
        ...

    def upsert(self, products: Sequence[Product]) -> None:
        """Insert or replace products in one transaction."""
        ...

    def get(self, product_id: str) -> Product | None: ...

    def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        """The known products among ``product_ids``, in the order asked."""
        ...

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def iter_products(self, batch_size: int = 10_000) -> Iterator[list[Product]]: ...

    def delete(self, product_ids: Sequence[str]) -> int: ...

    def changed_since(self, since_us: int) -> tuple[list[Product], int]:
        """Products inserted or replaced after ``since_us`` (epoch microseconds of the
        write), oldest change first, and the latest change's time: how a running server
        follows catalog writes made by another process (``shopsense ingest``)."""
        ...


class EventLog(Protocol):
    """Append-only log of events, idempotent on ``event_id``."""

    def writer(self) -> AbstractContextManager[EventWriter]:
        """One transaction: everything written through it lands together or not at all."""
        ...

    def append(self, events: Sequence[Event]) -> int:
        """Store a batch in one transaction; return how many events were new."""
        ...

    def append_rows(self, rows: Sequence[Sequence[object]]) -> int:
        """Store trusted rows in :data:`EVENT_COLUMNS` order (as :func:`event_row` makes
        them: the server's own records, such as impressions) in one transaction, without an
        :class:`Event` per row; return how many were new."""
        ...

    def count(self) -> int: ...

    def count_by_kind(self) -> dict[EventKind, int]: ...

    def user_count(self) -> int: ...

    def iter_batches(
        self, batch_size: int = 100_000, since_us: int | None = None
    ) -> Iterator[EventBatch]:
        """All events (``since_us``: those at or after that time, epoch microseconds) in
        storage order, ``batch_size`` at a time, as columns."""
        ...

    def user_history(
        self, user_id: str, limit: int = 100, kinds: Sequence[EventKind] | None = None
    ) -> list[Event]:
        """The user's most recent events (of ``kinds`` only, when given), oldest first."""
        ...

    def counts_by_day(self) -> dict[int, dict[EventKind, int]]:
        """Events per UTC day (days since 1970) and kind, oldest day first."""
        ...

    def day_marks(self) -> dict[int, tuple[int, int]]:
        """Per UTC day (days since 1970, oldest first): how many events, and the highest
        storage sequence number among them. A day whose pair changed gained or lost events
        (an export compares them to know which days to write again)."""
        ...

    def attributed_counts(self) -> dict[EventKind, int]:
        """Events per kind that carry a ``request_id`` (attributed to a served list)."""
        ...

    def outcomes_by_user(self, since_us: int | None = None) -> dict[str, UserTotals]:
        """Totals per shopper over the events at or after ``since_us`` (epoch
        microseconds; ``None``: all), e.g. from an experiment's start (A/B reports)."""
        ...

    def search_report(self, since_us: int | None = None, limit: int = 20) -> SearchReport:
        """Searches per query (trimmed, lower-cased) at or after ``since_us``: the ``limit``
        most searched, the ``limit`` with the most searches that showed nothing, and the
        totals (:class:`QueryTotals`)."""
        ...

    def delete_user(self, user_id: str) -> int:
        """Remove the user, all of the user's events and cart, and leave a tombstone (a
        salted hash of the id, :meth:`digest`); return how many events went."""
        ...

    def staged(self) -> AbstractContextManager[StagedEvents]:
        """A bulk write that holds the write lock only briefly (``shopsense ingest``)."""
        ...

    def digest(self, user_id: str) -> str:
        """The salted hash of ``user_id`` that tombstones hold (the salt is the store's)."""
        ...

    def last_seq(self) -> int:
        """The storage sequence number of the newest event (0: none): where a follower of
        the log starts."""
        ...

    def appended_since(
        self, after: int, also: Sequence[int] = (), limit: int = 10_000
    ) -> list[Appended]:
        """Events stored with a sequence number above ``after`` or in ``also``, in sequence
        order, at most ``limit``: what other processes wrote since a follower last looked.
        Sequence numbers grow, but on PostgreSQL a number can commit after a higher one
        (concurrent writers): ``also`` re-asks for the numbers a follower found missing."""
        ...

    def forgotten(self) -> frozenset[str]:
        """Every tombstone: loaders of models erase the users whose :meth:`digest` is here."""
        ...


def tombstone_digest(salt: str, user_id: str) -> str:
    """The salted hash a deletion tombstone holds instead of the shopper's id."""
    return hashlib.sha256(f"{salt}\x00{user_id}".encode()).hexdigest()


@dataclass(frozen=True)
class UserTotals:
    """One shopper's impressions, clicks, purchases and revenue (price x quantity)."""

    impressions: int
    clicks: int
    purchases: int
    revenue: float


@dataclass(frozen=True)
class QueryTotals:
    """One search query's searches (``search`` events), those that showed no results (no
    impression carries their ``request_id``), those followed by at least one click on
    their results (``clicked``) and those clicks."""

    query: str
    searches: int
    zero_results: int
    clicked: int
    clicks: int


@dataclass(frozen=True)
class SearchReport:
    """What shoppers searched for (:meth:`EventLog.search_report`); ``overall`` has the
    query ``""``."""

    overall: QueryTotals
    top: list[QueryTotals]
    zero_results: list[QueryTotals]


class StagedEvents(Protocol):
    """Events staged for one bulk write (a file): checked before any reaches the log,
    then moved in short transactions (:mod:`shopsense.store.sql_staging`)."""

    staged: int

    def add(self, rows: Sequence[tuple[int, Event]]) -> None:
        """Stage ``(row number, event)`` pairs (row numbers: the file's rows)."""
        ...

    def add_rows(self, rows: Sequence[tuple[object, ...]]) -> None:
        """Stage validated storage rows: ``(row number, *event_row(event))``."""
        ...

    def conflicts(self) -> list[tuple[int, str]]:
        """``(row, event_id)`` of staged events reusing a stored (or earlier staged) id for
        a different event."""
        ...

    def drop(self, rows: Sequence[int]) -> None: ...

    def commit(self) -> int:
        """Move the staged events into the log; returns how many were new."""
        ...


class Carts(Protocol):
    """Storefront carts, kept in the store (a restart or another worker keeps them).

    Quantities are per shopper and product, at least 1; setting 0 removes the line.
    """

    def get(self, user_id: str) -> dict[str, int]:
        """The shopper's cart, product id -> quantity, in the order lines were added."""
        ...

    def add(self, user_id: str, item_id: str, quantity: int = 1) -> None: ...

    def set(self, user_id: str, item_id: str, quantity: int) -> None: ...

    def take(self, user_id: str) -> dict[str, int]:
        """Empty the cart and return what was in it, in one transaction (checkout)."""
        ...
