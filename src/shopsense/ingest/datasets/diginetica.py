"""Reader for DIGINETICA (CIKM Cup 2016) item views: ``train-item-views.csv``.

``;``-separated rows ``session_id;user_id;item_id;timeframe;eventdate``, with or without a
header (the original spells it ``sessionId;userId;itemId;timeframe;eventdate``).
``timeframe`` is the time since the session began, in milliseconds; ``eventdate`` is the
day of the view. A session that passes midnight carries two dates, so each session is
anchored at the midnight that starts its earliest date and each view is placed at
``anchor + timeframe``: the views keep their true spacing and order (the time of day the
session began is not in the data).

Every row is a ``view``. ``user_id`` ``NA`` (anonymous shoppers, most rows) becomes one user
per session, ``anon-<session_id>``, unless the session names exactly one shopper elsewhere
(they logged in part-way): then the anonymous views are theirs. Event ids are
``diginetica:<session>:<timeframe>:<item>`` (``:<n>`` for the n-th repeat of a row): they
depend on the row's content only, so the same view read from two samples of the dataset is
stored once. Products are stubs, titled ``item <id>``: the views file has no product data.

Events are grouped by user, each user's in time order (ties in file order). A known user's
sessions on the same day all start at that day's midnight, so their views interleave; the
public samples have no such user.

Example::

    >>> ds = read_diginetica(Path("train-item-views.csv"))  # doctest: +SKIP
    >>> next(iter(ds.events)).kind  # doctest: +SKIP
    <EventKind.VIEW: 'view'>
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import ValidationError

from .base import Dataset, Stream, build, find_one

logger = logging.getLogger(__name__)

DIGINETICA = "diginetica"
_PATTERNS = ("*item-views*.csv", "*item_views*.csv")
_COLUMNS = ("sessionid", "userid", "itemid", "timeframe", "eventdate")
_ANONYMOUS = {"NA", ""}


@dataclass(frozen=True)
class _View:
    row: int
    session: str
    user: str
    item: str
    timeframe: int
    day: date


def read_diginetica(path: Path) -> Dataset:
    """Products and view events of a Diginetica item-views file (or a folder holding one)."""
    file = find_one(path, DIGINETICA, _PATTERNS, "item-views file (*item-views*.csv)")

    def products() -> Iterator[Product]:
        seen: set[str] = set()
        for view in _read_views(file):
            if view.item not in seen:
                seen.add(view.item)
                yield build(Product, file.name, view.row, id=view.item, title=f"item {view.item}")

    def events() -> Iterator[Event]:
        return _events(file, _read_views(file))

    return Dataset(name=file.stem, products=Stream(products), events=Stream(events))


def _events(file: Path, views: list[_View]) -> Iterator[Event]:
    anchors: dict[str, date] = {}
    known_users: dict[str, set[str]] = {}
    for view in views:
        anchor = anchors.get(view.session)
        if anchor is None or view.day < anchor:
            anchors[view.session] = view.day
        if view.user not in _ANONYMOUS:
            known_users.setdefault(view.session, set()).add(view.user)
    by_user: dict[str, list[tuple[datetime, _View]]] = {}
    for view in views:
        user = view.user
        if user in _ANONYMOUS:
            session_users = known_users.get(view.session, set())
            user = next(iter(session_users)) if len(session_users) == 1 else f"anon-{view.session}"
        midnight = datetime.combine(anchors[view.session], datetime.min.time(), tzinfo=UTC)
        at = midnight + timedelta(milliseconds=view.timeframe)
        by_user.setdefault(user, []).append((at, view))
    repeats: dict[str, int] = {}
    for user, user_views in by_user.items():
        user_views.sort(key=lambda pair: (pair[0], pair[1].row))
        for at, view in user_views:
            key = f"{DIGINETICA}:{view.session}:{view.timeframe}:{view.item}"
            seen = repeats.get(key, 0)
            repeats[key] = seen + 1
            yield build(
                Event,
                file.name,
                view.row,
                event_id=key if seen == 0 else f"{key}:{seen}",
                user_id=user,
                session_id=view.session,
                kind=EventKind.VIEW,
                item_id=view.item,
                timestamp=at,
            )


def _read_views(file: Path) -> list[_View]:
    """All rows of the file, in file order (the file is read whole: views are sorted per user)."""
    views: list[_View] = []
    with file.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream, delimiter=";")
        positions = tuple(range(len(_COLUMNS)))
        row = 0  # 1-based data row, the header not counted
        for line, fields in enumerate(reader, start=1):
            if not fields or not any(f.strip() for f in fields):
                continue
            if line == 1 and not fields[0].strip().isdigit():
                positions = _header(file, fields)
                continue
            row += 1
            if len(fields) < len(_COLUMNS):
                raise ValidationError(
                    file.name, row, "line", f"expected {len(_COLUMNS)} ';'-separated fields"
                )
            session, user, item, timeframe, day = (fields[p].strip() for p in positions)
            views.append(
                _View(
                    row=row,
                    session=session,
                    user=user,
                    item=item,
                    timeframe=_parse_timeframe(file, row, timeframe),
                    day=_parse_day(file, row, day),
                )
            )
    return views


def _header(file: Path, fields: list[str]) -> tuple[int, ...]:
    names = [f.strip().lower().replace("_", "") for f in fields]
    missing = [c for c in _COLUMNS if c not in names]
    if missing:
        raise ValidationError(
            file.name,
            0,
            "header",
            f"missing column(s) {', '.join(missing)}; expected "
            "session_id;user_id;item_id;timeframe;eventdate",
        )
    return tuple(names.index(c) for c in _COLUMNS)


def _parse_timeframe(file: Path, row: int, value: str) -> int:
    try:
        timeframe = int(value)
    except ValueError:
        timeframe = -1
    if timeframe < 0:
        raise ValidationError(
            file.name, row, "timeframe", f"expected milliseconds (an integer >= 0), got {value!r}"
        )
    return timeframe


def _parse_day(file: Path, row: int, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            file.name, row, "eventdate", f"expected a date like 2016-05-09, got {value!r}"
        ) from None
