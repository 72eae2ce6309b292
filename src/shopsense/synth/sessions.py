"""Simulated shopping sessions: what the shop showed and what the shoppers did.

A session is one visit. The shopper picks a leaf category by taste, then browses it (a
page of 10, sorted by bestselling, newest or price) or searches for it (a ``search`` event,
then 10 results of the shop's keyword search). Every shown product is an ``impression``
with its ``request_id`` and ``position``. The shopper clicks with the probability of
:meth:`GroundTruth.click_probabilities` (position bias times attraction), a click opens the
product page (``click`` then ``view``), and the page may lead to ``add_to_cart`` and
``purchase`` (:meth:`GroundTruth.cart_and_buy_probabilities`). After buying, the shopper may
browse a complementary category (phone -> case) where complements get a utility boost.

Only products launched by the session's time are shown. Timestamps strictly increase
within a session in funnel order; sessions of one shopper are at least two hours apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from shopsense.domain import Event, EventKind
from shopsense.synth.catalog import Catalog, epoch_us
from shopsense.synth.queries import KeywordSearch, make_query
from shopsense.synth.shoppers import session_counts
from shopsense.synth.truth import GroundTruth

logger = logging.getLogger(__name__)

_SECOND = 1_000_000
_HOUR = 3600 * _SECOND
_DAY = 24 * _HOUR
#: Relative traffic by hour of day: quiet nights, a lunch bump and an evening peak.
_HOURLY = np.array(
    [0.6, 0.4, 0.3, 0.2, 0.2, 0.3, 0.6, 1.0, 1.3, 1.4, 1.4, 1.5,
     1.7, 1.6, 1.5, 1.5, 1.6, 1.8, 2.1, 2.4, 2.5, 2.2, 1.6, 1.0]
)  # fmt: skip
_KINDS = tuple(EventKind)
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}
BROWSE_PAGE = 10
SEARCH_PAGE = 10
COMPLEMENT_PAGE = 6
#: Probability that a shopper who just bought something looks at its complements.
COMPLEMENT_RATE = 0.75
#: Probability that a session goes on to another list, after each list.
CONTINUE_RATE = 0.45
_MIN_SESSION_GAP = 2 * _HOUR

#: One simulated event: time (µs), kind code, user, session, item, query, request,
#: position, quantity, price (-1 / NaN: absent), as :class:`EventStream` hands them out.
Row = tuple[int, int, int, int, int, str | None, int, int, int, float]
#: The value of each kind code.
KIND_VALUES = tuple(kind.value for kind in _KINDS)


class _SessionSimulator:
    """Holds the shop's state while sessions are played one after the other."""

    def __init__(self, truth: GroundTruth, catalog: Catalog, rng: np.random.Generator) -> None:
        self.truth = truth
        self.catalog = catalog
        self.rng = rng
        self.rows: list[Row] = []
        self.request_count = 0
        self.start_us = epoch_us(truth.start)
        n_leaves = len(catalog.leaves)
        self.leaf_items = [np.flatnonzero(catalog.item_leaf == leaf) for leaf in range(n_leaves)]
        self.preference_cdf: npt.NDArray[np.float64] = np.cumsum(truth.user_category_pref, axis=1)
        self.search = KeywordSearch(catalog.products)
        all_items = np.arange(len(catalog.products), dtype=np.intp)
        # The shop's view of popularity, refreshed daily (one row per day of the window).
        self.daily_popularity = np.stack(
            [truth.log_popularity(all_items, day + 0.5) for day in range(int(truth.days) + 1)]
        )
        leaf_department = catalog.leaf_department
        self.department_brands = [
            tuple(b for b, d in zip(catalog.brands, catalog.brand_department, strict=True)
                  if d == leaf_department[leaf])
            for leaf in range(n_leaves)
        ]  # fmt: skip
        multi = np.array([leaf.multi_buy for leaf in catalog.leaves])
        self.item_multi_buy = multi[catalog.item_leaf]

    # -- one session ------------------------------------------------------------------------

    def play(self, user: int, session: int, t: int) -> None:
        rng = self.rng
        day = (t - self.start_us) / _DAY
        available = self.catalog.created_us <= t
        popularity = self.daily_popularity[min(int(day), self.daily_popularity.shape[0] - 1)]
        leaf = self._pick_leaf(user)
        page = 0
        complement_shown = False
        while True:
            if rng.random() < self.truth.user_search_rate[user]:
                request = self._next_request()
                query = make_query(self.catalog.leaves[leaf], self.department_brands[leaf], rng)
                self._log(t, EventKind.SEARCH, user, session, query=query, request=request)
                t += int(rng.uniform(0.3, 2.0) * _SECOND)
                items = self.search.search(query, available, popularity, SEARCH_PAGE, rng)
            else:
                request = self._next_request()
                items = self._browse(leaf, page, available, popularity)
            t, bought = self._show(user, session, request, items, t, day)
            if bought and not complement_shown:
                t, complement_shown = self._complements(user, session, bought, t, day, available)
            if rng.random() > CONTINUE_RATE:
                return
            t += int(rng.exponential(20.0) * _SECOND) + _SECOND
            if rng.random() < 0.5:
                page += 1
            else:
                leaf, page = self._pick_leaf(user), 0

    def _log(
        self,
        t: int,
        kind: EventKind,
        user: int,
        session: int,
        item: int = -1,
        *,
        query: str | None = None,
        request: int = -1,
        position: int = -1,
        quantity: int = -1,
        price: float = np.nan,
    ) -> None:
        self.rows.append(
            (t, _KIND_CODE[kind], user, session, item, query, request, position, quantity, price)
        )

    def _pick_leaf(self, user: int) -> int:
        cdf = self.preference_cdf[user]
        leaf = int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"))
        return min(leaf, int(cdf.size) - 1)

    def _next_request(self) -> int:
        self.request_count += 1
        return self.request_count

    def _browse(
        self,
        leaf: int,
        page: int,
        available: npt.NDArray[np.bool_],
        popularity: npt.NDArray[np.float64],
        size: int = BROWSE_PAGE,
        order: str | None = None,
    ) -> npt.NDArray[np.intp]:
        """One page of a category listing, in one of the shop's sort orders."""
        items = self.leaf_items[leaf]
        items = items[available[items]]
        if items.size == 0:
            return items
        if order is None:
            draw = self.rng.random()
            order = "bestselling" if draw < 0.6 else "newest" if draw < 0.8 else "price"
        if order == "bestselling":
            key = -(popularity[items] + self.rng.normal(0.0, 0.5, items.size))
        elif order == "newest":
            key = -self.catalog.created_us[items].astype(np.float64)
        else:
            key = self.catalog.price[items]
        ranked = items[np.argsort(key, kind="stable")]
        if page * size >= ranked.size:
            page = 0
        return ranked[page * size : (page + 1) * size]

    def _show(
        self,
        user: int,
        session: int,
        request: int,
        items: npt.NDArray[np.intp],
        t: int,
        day: float,
        context_leaf: int = -1,
    ) -> tuple[int, list[int]]:
        """Log a served list and the shopper's reaction; returns the time and items bought."""
        rng = self.rng
        impression = _KIND_CODE[EventKind.IMPRESSION]
        self.rows.extend(
            (t + position * 1000, impression, user, session, int(item), None, request, position,
             -1, np.nan)
            for position, item in enumerate(items)
        )  # fmt: skip
        t += items.size * 1000
        if items.size == 0:
            return t + 5 * _SECOND, []
        positions = np.arange(items.size)
        truth = self.truth
        clicks = truth.click_probabilities(user, items, positions, day, context_leaf)
        clicked = np.flatnonzero(rng.random(items.size) < clicks)
        if clicked.size == 0:
            return t + int(rng.exponential(8.0) * _SECOND), []
        cart, buy = truth.cart_and_buy_probabilities(user, items[clicked], day, context_leaf)
        bought: list[int] = []
        for n, position in enumerate(clicked):
            item = int(items[position])
            price = float(self.catalog.price[item])
            t += int((2.0 + rng.exponential(12.0)) * _SECOND)
            self._log(
                t, EventKind.CLICK, user, session, item, request=request, position=int(position)
            )
            t += int(rng.uniform(0.2, 1.5) * _SECOND)
            self._log(t, EventKind.VIEW, user, session, item)
            t += int((5.0 + rng.exponential(40.0)) * _SECOND)
            if rng.random() >= cart[n]:
                continue
            self._log(t, EventKind.ADD_TO_CART, user, session, item, price=price)
            t += int((3.0 + rng.exponential(20.0)) * _SECOND)
            if rng.random() >= buy[n]:
                continue
            quantity = self._quantity(item)
            self._log(t, EventKind.PURCHASE, user, session, item, quantity=quantity, price=price)
            t += int((20.0 + rng.exponential(60.0)) * _SECOND)
            bought.append(item)
        return t, bought

    def _quantity(self, item: int) -> int:
        draw = self.rng.random()
        if self.item_multi_buy[item]:
            return 1 if draw < 0.65 else 2 if draw < 0.85 else 3 if draw < 0.95 else 4
        return 1 if draw < 0.95 else 2

    def _complements(
        self,
        user: int,
        session: int,
        bought: list[int],
        t: int,
        day: float,
        available: npt.NDArray[np.bool_],
    ) -> tuple[int, bool]:
        """Maybe browse a category that complements something just bought."""
        rng = self.rng
        for item in bought:
            leaf = int(self.catalog.item_leaf[item])
            partners = np.flatnonzero(self.truth.complement_matrix[leaf])
            if partners.size == 0 or rng.random() >= COMPLEMENT_RATE:
                continue
            partner = int(partners[int(rng.integers(partners.size))])
            popularity = self.daily_popularity[min(int(day), self.daily_popularity.shape[0] - 1)]
            items = self._browse(partner, 0, available, popularity, COMPLEMENT_PAGE, "bestselling")
            t += int((5.0 + rng.exponential(15.0)) * _SECOND)
            t, _ = self._show(user, session, self._next_request(), items, t, day, leaf)
            return t, True
        return t, False


def _session_starts(
    counts: npt.NDArray[np.int64], start_us: int, days: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Users and start times of all sessions, sorted by time: weekends and evenings are
    busier, and one shopper's sessions are at least two hours apart."""
    n_sessions = int(counts.sum())
    users = np.repeat(np.arange(counts.size), counts)
    weekday = np.array([(datetime.fromtimestamp(start_us / _SECOND, UTC) +
                         timedelta(days=d)).weekday() for d in range(days)])  # fmt: skip
    day_weight = np.where(weekday >= 5, 1.25, 1.0)
    day = rng.choice(days, size=n_sessions, p=day_weight / day_weight.sum())
    hour = rng.choice(24, size=n_sessions, p=_HOURLY / _HOURLY.sum())
    starts = start_us + day * _DAY + hour * _HOUR + rng.integers(0, _HOUR, n_sessions)
    starts -= starts % 1000  # milliseconds, like a web server's clock
    latest = start_us + days * _DAY - 3 * _HOUR
    order = np.lexsort((starts, users))
    users, starts = users[order], np.minimum(starts[order], latest)
    for i in range(1, n_sessions):
        if users[i] == users[i - 1] and starts[i] < starts[i - 1] + _MIN_SESSION_GAP:
            starts[i] = starts[i - 1] + _MIN_SESSION_GAP
    keep = starts <= latest
    users, starts = users[keep], starts[keep]
    by_time = np.argsort(starts, kind="stable")
    return users[by_time].astype(np.intp), starts[by_time].astype(np.int64)


class EventStream:
    """The shop's events, simulated session by session (in order of their starts) and
    handed out sorted by time, a chunk at a time: a shop of any size is written without
    holding its events in memory (``shopsense generate``).

    A session's events come at or after its start, so once the sessions that start before
    ``t`` have been played, every event before ``t`` is known: each chunk is those, sorted by
    time with ties in logging order, which is the order of sorting all events at once.
    """

    def __init__(
        self,
        truth: GroundTruth,
        catalog: Catalog,
        *,
        sessions_per_user: float,
        rng: np.random.Generator,
    ) -> None:
        counts = session_counts(truth.user_activity, sessions_per_user, rng)
        self.users, self.starts = _session_starts(
            counts, epoch_us(truth.start), round(truth.days), rng
        )
        self._simulator = _SessionSimulator(truth, catalog, rng)

    @property
    def n_sessions(self) -> int:
        return int(self.users.size)

    @property
    def n_requests(self) -> int:
        """Served lists so far (all of them once the chunks are read)."""
        return self._simulator.request_count

    def chunks(self, rows: int = 200_000) -> Iterator[list[Row]]:
        """Events sorted by time, about ``rows`` at a time (0: all at once, at the end)."""
        simulator = self._simulator
        starts = self.starts.tolist()
        for session, (user, t) in enumerate(zip(self.users.tolist(), starts, strict=True)):
            simulator.play(user, session, t)
            if rows and len(simulator.rows) >= rows and session + 1 < len(starts):
                ready, simulator.rows = _before(simulator.rows, starts[session + 1])
                yield ready
        ready, simulator.rows = _before(simulator.rows, None)
        if ready:
            yield ready


def _before(rows: list[Row], limit: int | None) -> tuple[list[Row], list[Row]]:
    """The rows before ``limit`` (all: ``None``) sorted by time, ties in logging order;
    and the others, in logging order."""
    times = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    order = np.argsort(times, kind="stable")
    if limit is None:
        return [rows[i] for i in order.tolist()], []
    early = times < limit
    ready = [rows[i] for i in order.tolist() if early[i]]
    return ready, [row for row, e in zip(rows, early.tolist(), strict=True) if not e]


def simulate_events(
    truth: GroundTruth,
    catalog: Catalog,
    *,
    sessions_per_user: float,
    rng: np.random.Generator,
) -> list[Event]:
    """Play every shopper's sessions over the window; events come back sorted by time."""
    stream = EventStream(truth, catalog, sessions_per_user=sessions_per_user, rng=rng)
    rows = [row for chunk in stream.chunks(rows=0) for row in chunk]
    logger.info("simulated %d sessions with %d events", stream.n_sessions, len(rows))
    return _to_events(rows, truth, stream.n_sessions, stream.n_requests)


def _to_events(
    rows: list[Row], truth: GroundTruth, n_sessions: int, n_requests: int
) -> list[Event]:
    """Build events with sequential ids from rows sorted by time (:class:`EventStream`)."""
    event_width = max(7, len(str(len(rows))))
    session_width = max(6, len(str(n_sessions)))
    request_width = max(7, len(str(n_requests)))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    item_ids, user_ids = truth.item_ids, truth.user_ids
    construct = Event.model_construct
    events: list[Event] = []
    for n, row in enumerate(rows):
        t, kind, user, session, item, query, request, position, quantity, price = row
        events.append(
            construct(
                event_id=f"E{n + 1:0{event_width}d}",
                user_id=user_ids[user],
                session_id=f"S{session + 1:0{session_width}d}",
                kind=_KINDS[kind],
                item_id=item_ids[item] if item >= 0 else None,
                query=query,
                request_id=f"R{request:0{request_width}d}" if request >= 0 else None,
                position=position if position >= 0 else None,
                quantity=quantity if quantity >= 0 else None,
                price=price if price == price else None,
                timestamp=epoch + timedelta(microseconds=t),
            )
        )
    return events
