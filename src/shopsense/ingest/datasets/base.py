"""What every public-dataset reader shares: the :class:`Dataset` record, lazy re-iterable
streams, file lookup with helpful errors, record building and the synthesized clocks.

Readers stay lazy: a :class:`Stream` re-opens its files each time it is iterated, so a large
dataset is never held in memory and ``list(dataset.events)`` can be taken twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import pydantic

from shopsense.domain import Event, EventKind, Product
from shopsense.errors import UnknownFormatError, ValidationError

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

#: Day 0 of the synthesized clocks. Sequence datasets carry the order of a user's items but
#: no times, so the k-th item of every user is placed at ``SEQUENCE_EPOCH + k minutes``.
SEQUENCE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Dataset:
    """A public dataset as the shop's vocabulary.

    ``products`` and ``events`` are lazy streams that can be iterated more than once; events
    come grouped by user (or session), each user's in chronological order.
    """

    name: str
    products: Iterable[Product]
    events: Iterable[Event]


class Stream(Generic[T]):
    """A lazy, re-iterable sequence of records: each ``iter()`` calls ``produce`` afresh."""

    def __init__(self, produce: Callable[[], Iterator[T]]) -> None:
        self._produce = produce

    def __iter__(self) -> Iterator[T]:
        return self._produce()


def build(model: type[M], source: str, row: int, **values: Any) -> M:
    """Validate one record, turning pydantic's error into ShopSense's (file, row, field)."""
    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise ValidationError(source, row, field, first["msg"]) from exc


@lru_cache(maxsize=4096)
def sequence_timestamp(position: int) -> datetime:
    """Synthesized time of a user's ``position``-th (0-based) item: epoch + position minutes."""
    return SEQUENCE_EPOCH + timedelta(minutes=position)


def sequence_events(
    format_name: str, dataset_name: str, source: str, sequences: Mapping[str, Sequence[str]]
) -> Iterator[Event]:
    """One ``purchase`` (quantity 1) per item of each user's sequence.

    The Amazon sequence datasets are built from reviews; a review is the public proxy for a
    purchase (the S3-Rec / SASRec papers treat them the same way), so ``purchase`` carries
    the strongest default weight, as a bought item should. Event ids are
    ``"{format}:{dataset}:{user}:{k}"``: reading the same file twice yields the same ids,
    and the dataset name keeps Beauty's user 1 apart from Sports' user 1. ``source`` names
    the file in error messages.
    """
    prefix = f"{format_name}:{dataset_name}"
    number = 0  # running count, the "row" an invalid event is reported at
    for user, items in sequences.items():
        for position, item in enumerate(items):
            number += 1
            yield build(
                Event,
                source,
                number,
                event_id=f"{prefix}:{user}:{position}",
                user_id=user,
                kind=EventKind.PURCHASE,
                item_id=item,
                quantity=1,
                timestamp=sequence_timestamp(position),
            )


def require_path(path: Path, format_name: str) -> Path:
    """Fail with the path in the message when it does not exist."""
    if not path.exists():
        raise UnknownFormatError(
            f"no {format_name} dataset at {path}: the path does not exist; "
            "pass the dataset file or the folder that holds it"
        )
    return path


def find_one(path: Path, format_name: str, patterns: Sequence[str], what: str) -> Path:
    """``path`` itself when it is a file, else the single file in it matching ``patterns``.

    Looks in the folder first, then one level down; several matches are an error that lists
    them, so the caller can pass the one it means.
    """
    require_path(path, format_name)
    if path.is_file():
        return path
    matches = find_all(path, patterns)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownFormatError(
            f"no {what} in {path} for format '{format_name}' (looked for "
            f"{', '.join(patterns)}); pass the file itself"
        )
    names = ", ".join(str(m.relative_to(path)) for m in matches)
    raise UnknownFormatError(
        f"{path} holds several {format_name} files ({names}); pass the one to read"
    )


def find_all(folder: Path, patterns: Sequence[str]) -> list[Path]:
    """Files in ``folder`` (or, when none there, in its sub-folders) matching any pattern."""
    for depth in ("", "*/"):
        found = sorted(
            {p for pattern in patterns for p in folder.glob(depth + pattern) if p.is_file()}
        )
        if found:
            return found
    return []


def ordered_ids(ids: Iterable[str]) -> list[str]:
    """Distinct ids, numerically ordered when all are integers, else in first-seen order."""
    distinct = list(dict.fromkeys(ids))
    if all(i.isdigit() for i in distinct):
        distinct.sort(key=int)
    return distinct
