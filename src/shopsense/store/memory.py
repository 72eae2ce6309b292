"""In-memory fakes of the catalog and the event log, for tests.

They keep the same promises as the SQL backend (idempotent ``event_id``, all-or-nothing
writers) and pass the same contract tests.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from shopsense.domain import Event, EventKind, Product
from shopsense.limits import MAX_INT32
from shopsense.store.base import (
    MICROS_PER_DAY,
    Appended,
    EventBatch,
    QueryTotals,
    SearchReport,
    UserTotals,
    event_from_row,
    event_row,
    same_event,
    to_micros,
    tombstone_digest,
)


class _CatalogWriter:
    def __init__(self) -> None:
        self.staged: dict[str, Product] = {}

    def upsert(self, batch: Sequence[Product]) -> None:
        for product in batch:
            self.staged[product.id] = product


class InMemoryCatalog:
    def __init__(self) -> None:
        self._products: dict[str, Product] = {}
        self._changed: dict[str, int] = {}

    def changed_since(self, since_us: int) -> tuple[list[Product], int]:
        later = sorted((t, k) for k, t in self._changed.items() if t > since_us)
        latest = later[-1][0] if later else since_us
        return [self._products[k] for _, k in later], latest

    @contextmanager
    def writer(self) -> Iterator[_CatalogWriter]:
        writer = _CatalogWriter()
        yield writer
        now = datetime.now(UTC)
        for product in writer.staged.values():
            old = self._products.get(product.id)
            created = product.created_at or (old.created_at if old else now)
            self._products[product.id] = product.model_copy(update={"created_at": created})
            self._changed[product.id] = to_micros(datetime.now(UTC))

    def upsert(self, batch: Sequence[Product]) -> None:
        with self.writer() as writer:
            writer.upsert(batch)

    def get(self, product_id: str) -> Product | None:
        return self._products.get(product_id)

    def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        return [self._products[i] for i in product_ids if i in self._products]

    def ids(self) -> set[str]:
        return set(self._products)

    def count(self) -> int:
        return len(self._products)

    def iter_products(self, batch_size: int = 10_000) -> Iterator[list[Product]]:
        ordered = [self._products[k] for k in sorted(self._products)]
        for start in range(0, len(ordered), batch_size):
            yield ordered[start : start + batch_size]

    def delete(self, product_ids: Sequence[str]) -> int:
        gone = [i for i in set(product_ids) if i in self._products]
        for product_id in gone:
            del self._products[product_id]
            self._changed.pop(product_id, None)
        return len(gone)


class _EventWriter:
    def __init__(self, known: dict[str, Event]) -> None:
        self._known = known
        self.staged: dict[str, Event] = {}

    def conflicts(self, batch: Sequence[Event]) -> list[int]:
        out = []
        for i, event in enumerate(batch):
            stored = self.staged.get(event.event_id) or self._known.get(event.event_id)
            if stored is not None and not same_event(event_row(stored), event):
                out.append(i)
        return out

    def append(self, batch: Sequence[Event]) -> int:
        new = 0
        for event in batch:
            if event.event_id not in self._known and event.event_id not in self.staged:
                self.staged[event.event_id] = event
                new += 1
        return new


class _StagedEvents:
    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log
        self._rows: dict[int, Event] = {}

    @property
    def staged(self) -> int:
        return len(self._rows)

    def add(self, rows: Sequence[tuple[int, Event]]) -> None:
        self._rows.update(rows)

    def add_rows(self, rows: Sequence[tuple[object, ...]]) -> None:
        self._rows.update((int(r[0]), event_from_row(r[1:])) for r in rows)  # type: ignore[call-overload]

    def conflicts(self) -> list[tuple[int, str]]:
        seen: dict[str, Event] = {}
        out = []
        for row, event in sorted(self._rows.items()):
            first = self._log._events.get(event.event_id) or seen.setdefault(event.event_id, event)
            if not same_event(event_row(first), event):
                out.append((row, event.event_id))
        return out

    def drop(self, rows: Sequence[int]) -> None:
        for row in rows:
            self._rows.pop(row, None)

    def commit(self) -> int:
        return self._log.append([e for _, e in sorted(self._rows.items())])


class InMemoryEventLog:
    def __init__(self) -> None:
        self._events: dict[str, Event] = {}
        #: Every stored event's sequence number, in storage order.
        self._seqs: dict[str, int] = {}
        self._seq = 0  # the last number given (deletions never make one come back)
        self._users: set[str] = set()
        self._salt = secrets.token_hex(16)
        self._forgotten: set[str] = set()

    @contextmanager
    def writer(self) -> Iterator[_EventWriter]:
        writer = _EventWriter(self._events)
        yield writer
        self._events.update(writer.staged)
        for event_id in writer.staged:
            self._seq += 1
            self._seqs[event_id] = self._seq
        self._users.update(e.user_id for e in writer.staged.values())

    def append(self, batch: Sequence[Event]) -> int:
        with self.writer() as writer:
            return writer.append(batch)

    def append_rows(self, rows: Sequence[Sequence[object]]) -> int:
        return self.append([event_from_row(row) for row in rows])

    @contextmanager
    def staged(self) -> Iterator[_StagedEvents]:
        yield _StagedEvents(self)

    def count(self) -> int:
        return len(self._events)

    def last_seq(self) -> int:
        return next(reversed(self._seqs.values()), 0)

    def appended_since(
        self, after: int, also: Sequence[int] = (), limit: int = 10_000
    ) -> list[Appended]:
        wanted = set(also)
        found = []
        for event_id, seq in self._seqs.items():
            if seq > after or seq in wanted:
                e = self._events[event_id]
                found.append(
                    Appended(seq, event_id, e.user_id, e.item_id, e.kind, e.session_id, e.timestamp)
                )
        return found[:limit]

    def count_by_kind(self) -> dict[EventKind, int]:
        counts = dict.fromkeys(EventKind, 0)
        for event in self._events.values():
            counts[event.kind] += 1
        return counts

    def user_count(self) -> int:
        return len(self._users)

    def iter_batches(
        self, batch_size: int = 100_000, since_us: int | None = None
    ) -> Iterator[EventBatch]:
        ordered = [
            e
            for e in self._events.values()
            if since_us is None or to_micros(e.timestamp) >= since_us
        ]
        for start in range(0, len(ordered), batch_size):
            yield EventBatch.from_rows([event_row(e) for e in ordered[start : start + batch_size]])

    def user_history(
        self, user_id: str, limit: int = 100, kinds: Sequence[EventKind] | None = None
    ) -> list[Event]:
        wanted = set(kinds) if kinds is not None else set(EventKind)
        mine = [e for e in self._events.values() if e.user_id == user_id and e.kind in wanted]
        mine.sort(key=lambda e: e.timestamp)
        return mine[-limit:] if limit else []

    def day_marks(self) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        for event_id, seq in self._seqs.items():
            day = to_micros(self._events[event_id].timestamp) // MICROS_PER_DAY
            n, last = found.get(day, (0, 0))
            found[day] = (n + 1, max(last, seq))
        return dict(sorted(found.items()))

    def counts_by_day(self) -> dict[int, dict[EventKind, int]]:
        out: dict[int, dict[EventKind, int]] = {}
        for e in self._events.values():
            day = to_micros(e.timestamp) // MICROS_PER_DAY
            out.setdefault(day, dict.fromkeys(EventKind, 0))[e.kind] += 1
        return dict(sorted(out.items()))

    def attributed_counts(self) -> dict[EventKind, int]:
        counts = dict.fromkeys(EventKind, 0)
        for e in self._events.values():
            if e.request_id is not None:
                counts[e.kind] += 1
        return counts

    def outcomes_by_user(self, since_us: int | None = None) -> dict[str, UserTotals]:
        totals: dict[str, list[float]] = {}
        for e in self._events.values():
            if since_us is not None and to_micros(e.timestamp) < since_us:
                continue
            row = totals.setdefault(e.user_id, [0, 0, 0, 0.0])
            row[0] += e.kind is EventKind.IMPRESSION
            row[1] += e.kind is EventKind.CLICK
            if e.kind is EventKind.PURCHASE:
                row[2] += 1
                row[3] += (e.price or 0.0) * (e.quantity or 1)
        return {u: UserTotals(int(i), int(c), int(p), r) for u, (i, c, p, r) in totals.items()}

    def search_report(self, since_us: int | None = None, limit: int = 20) -> SearchReport:
        window = [
            e
            for e in self._events.values()
            if since_us is None or to_micros(e.timestamp) >= since_us
        ]
        shown = {e.request_id for e in window if e.kind is EventKind.IMPRESSION and e.request_id}
        clicks = Counter(e.request_id for e in window if e.kind is EventKind.CLICK and e.request_id)
        rows: dict[str, list[int]] = {}
        for e in window:
            if e.kind is not EventKind.SEARCH:
                continue
            row = rows.setdefault((e.query or "").strip().lower(), [0, 0, 0, 0])
            row[0] += 1
            row[1] += e.request_id is not None and e.request_id not in shown
            clicked = clicks[e.request_id] if e.request_id else 0
            row[2] += clicked > 0
            row[3] += clicked
        totals = [QueryTotals(q, *row) for q, row in rows.items()]
        sums = [sum(column) for column in zip(*rows.values(), strict=True)] or [0, 0, 0, 0]
        overall = QueryTotals("", *sums)
        top = sorted(totals, key=lambda t: (-t.searches, t.query))[:limit]
        empty = sorted(
            (t for t in totals if t.zero_results), key=lambda t: (-t.zero_results, t.query)
        )
        return SearchReport(overall, top, empty[:limit])

    def delete_user(self, user_id: str) -> int:
        gone = [k for k, e in self._events.items() if e.user_id == user_id]
        for key in gone:
            del self._events[key]
            self._seqs.pop(key, None)
        self._users.discard(user_id)
        self._forgotten.add(self.digest(user_id))
        return len(gone)

    def digest(self, user_id: str) -> str:
        return tombstone_digest(self._salt, user_id)

    def forgotten(self) -> frozenset[str]:
        return frozenset(self._forgotten)


class InMemoryCarts:
    def __init__(self) -> None:
        self._carts: dict[str, dict[str, int]] = {}

    def get(self, user_id: str) -> dict[str, int]:
        return dict(self._carts.get(user_id, {}))

    def add(self, user_id: str, item_id: str, quantity: int = 1) -> None:
        cart = self._carts.setdefault(user_id, {})
        cart[item_id] = min(cart.get(item_id, 0) + quantity, MAX_INT32)

    def set(self, user_id: str, item_id: str, quantity: int) -> None:
        cart = self._carts.setdefault(user_id, {})
        if quantity <= 0:
            cart.pop(item_id, None)
        else:
            cart[item_id] = quantity

    def take(self, user_id: str) -> dict[str, int]:
        return self._carts.pop(user_id, {})


class InMemoryStore:
    def __init__(self) -> None:
        self.catalog = InMemoryCatalog()
        self.events = InMemoryEventLog()
        self.carts = InMemoryCarts()

    def close(self) -> None:
        pass
