"""Reader for YooChoose (RecSys Challenge 2015) clicks: ``yoochoose-clicks.dat``.

Rows ``session_id,timestamp,item_id,category`` without a header; the timestamp is ISO 8601
in UTC (``2014-04-07T10:51:09.277Z``). Each session is one anonymous user,
``session-<id>``, and each row a ``click``. Event ids are
``yoochoose:<session>:<timestamp>:<item>`` (``:<n>`` for the n-th repeat of a row).

The fourth column is the context of the click (the challenge's documentation): ``0`` is
unknown, ``S`` a special offer, ``1`` to ``12`` a category, and a longer number (8 to 10
digits) a brand. Each item's product takes the first category and the first brand it was
clicked under, and ``attributes["special_offer"] = True`` when it ever was one.

The file is streamed: events come session by session, each session's in time order (ties in
file order), which is the order of the original file. A session whose rows are split across
the file is logged once; its parts come out separately.

Example::

    >>> ds = read_yoochoose(Path("yoochoose-clicks.dat"))  # doctest: +SKIP
    >>> next(iter(ds.events)).user_id  # doctest: +SKIP
    'session-1'
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopsense.domain import Event, EventKind, Product, Scalar
from shopsense.errors import ValidationError

from .base import Dataset, Stream, build, find_one

logger = logging.getLogger(__name__)

YOOCHOOSE = "yoochoose"
_PATTERNS = ("*clicks*.dat", "*clicks*.csv")
_CATEGORIES = {str(c) for c in range(1, 13)}


@dataclass
class _Item:
    row: int
    category: str | None = None
    brand: str | None = None
    special_offer: bool = False


@dataclass(frozen=True)
class _Click:
    row: int
    session: str
    raw_time: str
    at: datetime
    item: str
    context: str


def read_yoochoose(path: Path) -> Dataset:
    """Products and click events of a YooChoose clicks file (or a folder holding one)."""
    file = find_one(path, YOOCHOOSE, _PATTERNS, "clicks file (*clicks*.dat)")

    def products() -> Iterator[Product]:
        items: dict[str, _Item] = {}
        for click in _read_clicks(file):
            item = items.setdefault(click.item, _Item(row=click.row))
            if click.context in _CATEGORIES:
                item.category = item.category or click.context
            elif click.context == "S":
                item.special_offer = True
            elif click.context.isdigit() and click.context != "0":
                item.brand = item.brand or click.context
        for item_id, item in items.items():
            attributes: dict[str, Scalar] = {"special_offer": True} if item.special_offer else {}
            yield build(
                Product,
                file.name,
                item.row,
                id=item_id,
                title=f"item {item_id}",
                category=(item.category,) if item.category else (),
                brand=item.brand,
                attributes=attributes,
            )

    def events() -> Iterator[Event]:
        return _events(file)

    return Dataset(name=file.stem, products=Stream(products), events=Stream(events))


def _events(file: Path) -> Iterator[Event]:
    finished: set[str] = set()
    warned = False
    block: list[_Click] = []
    for click in _read_clicks(file):
        if block and click.session != block[0].session:
            yield from _session_events(file, block)
            finished.add(block[0].session)
            block = []
        if not block and click.session in finished and not warned:
            warned = True
            logger.warning(
                "%s: session %s continues at row %d after other sessions; its events come "
                "out in separate blocks (sort the file by session to avoid this)",
                file.name,
                click.session,
                click.row,
            )
        block.append(click)
    if block:
        yield from _session_events(file, block)


def _session_events(file: Path, clicks: list[_Click]) -> Iterator[Event]:
    repeats: dict[str, int] = {}
    for click in sorted(clicks, key=lambda c: (c.at, c.row)):
        key = f"{YOOCHOOSE}:{click.session}:{click.raw_time}:{click.item}"
        seen = repeats.get(key, 0)
        repeats[key] = seen + 1
        yield build(
            Event,
            file.name,
            click.row,
            event_id=key if seen == 0 else f"{key}:{seen}",
            user_id=f"session-{click.session}",
            session_id=click.session,
            kind=EventKind.CLICK,
            item_id=click.item,
            timestamp=click.at,
        )


def _read_clicks(file: Path) -> Iterator[_Click]:
    with file.open(encoding="utf-8", newline="") as stream:
        for row, fields in enumerate(csv.reader(stream), start=1):
            if not fields:
                continue
            if len(fields) != 4:
                raise ValidationError(
                    file.name, row, "line", "expected 'session_id,timestamp,item_id,category'"
                )
            session, raw_time, item, context = (f.strip() for f in fields)
            if row == 1 and not session.isdigit():
                continue  # a header some copies of the file carry
            try:
                at = datetime.fromisoformat(raw_time)
            except ValueError:
                raise ValidationError(
                    file.name,
                    row,
                    "timestamp",
                    f"expected an ISO 8601 time like 2014-04-07T10:51:09.277Z, got {raw_time!r}",
                ) from None
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)  # the challenge's times are UTC
            yield _Click(row, session, raw_time, at, item, context)
