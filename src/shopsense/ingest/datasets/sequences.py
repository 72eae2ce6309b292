"""Readers for the plain-text sequence releases of S3-Rec and SASRec.

Two layouts, both with items in each user's chronological order and no times:

- ``s3rec`` (``Beauty.txt``): one user per line, ``user item item ...``.
- ``sasrec`` (``Video.txt``): one interaction per line, ``user item``.

Next to an S3-Rec file the release may hold ``<Name>_item2attributes.json``
(``{item: [attribute id, ...]}``, brand and category ids without names) and
``asin/<Name>_id2asin.tsv`` (``item<TAB>ASIN``); both go into the products' attributes as
``attribute_ids`` (space-separated) and ``asin``.

Products have no text in these releases, so titles are ``"<Name> item <id>"``. Events are
one ``purchase`` per item at synthesized times (see :func:`.base.sequence_events`): the
k-th item of each user at ``2000-01-01T00:00Z + k minutes``, so sorting a user's events by
timestamp gives the file's order back exactly.

Example::

    >>> ds = read_s3rec(Path("../shared/datasets/amazon-s3rec/Beauty.txt"))  # doctest: +SKIP
    >>> next(iter(ds.events)).kind  # doctest: +SKIP
    <EventKind.PURCHASE: 'purchase'>
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from shopsense.domain import Event, Product, Scalar
from shopsense.errors import ValidationError

from .base import Dataset, Stream, build, find_one, ordered_ids, sequence_events

logger = logging.getLogger(__name__)

S3REC = "s3rec"
SASREC = "sasrec"
_PATTERNS = ("*.txt",)


def detect_sequence_format(file: Path) -> str:
    """``"s3rec"`` when a line holds more than one item, else ``"sasrec"``.

    Looks at the first 1,000 non-blank lines; a file whose users each have exactly one item
    reads the same either way.
    """
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= 1000:
                break
            if len(line.split()) > 2:
                return S3REC
    return SASREC


def read_s3rec_sequences(path: Path) -> dict[str, list[str]]:
    """User -> items in order, from an S3-Rec file (``user item item ...`` per line)."""
    file = find_one(path, S3REC, _PATTERNS, "sequence file (.txt)")
    sequences: dict[str, list[str]] = {}
    with file.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            tokens = line.split()
            if not tokens:
                continue
            user, items = tokens[0], tokens[1:]
            if not items:
                raise ValidationError(
                    file.name, row, "items", f"user {user!r} has no items; remove the line"
                )
            if user in sequences:
                raise ValidationError(
                    file.name,
                    row,
                    "user",
                    f"user {user!r} appears on a second line; S3-Rec files hold one line per "
                    "user. A file of 'user item' lines is SASRec: read it with format 'sasrec'",
                )
            sequences[user] = items
    return sequences


def read_sasrec_sequences(path: Path) -> dict[str, list[str]]:
    """User -> items in order, from a SASRec file (``user item`` per line, in time order)."""
    file = find_one(path, SASREC, _PATTERNS, "sequence file (.txt)")
    sequences: dict[str, list[str]] = {}
    with file.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 2:
                hint = (
                    "; a line of 'user item item ...' is S3-Rec: read it with format 's3rec'"
                    if len(tokens) > 2
                    else ""
                )
                raise ValidationError(
                    file.name, row, "line", f"expected 'user item', got {len(tokens)} fields{hint}"
                )
            user, item = tokens
            items = sequences.get(user)
            if items is None:
                sequences[user] = [item]
            else:
                items.append(item)
    return sequences


def read_s3rec(path: Path) -> Dataset:
    """Products and purchase events of an S3-Rec sequence file (or its folder)."""
    file = find_one(path, S3REC, _PATTERNS, "sequence file (.txt)")
    return _dataset(file, S3REC, read_s3rec_sequences)


def read_sasrec(path: Path) -> Dataset:
    """Products and purchase events of a SASRec sequence file (or its folder)."""
    file = find_one(path, SASREC, _PATTERNS, "sequence file (.txt)")
    return _dataset(file, SASREC, read_sasrec_sequences)


def _dataset(file: Path, format_name: str, read: Callable[[Path], dict[str, list[str]]]) -> Dataset:
    name = file.stem

    def products() -> Iterator[Product]:
        sequences = read(file)
        attribute_ids = _read_item_attributes(file)
        asins = _read_id2asin(file)
        items = ordered_ids(
            [item for items in sequences.values() for item in items]
            + list(attribute_ids)
            + list(asins)
        )
        for row, item in enumerate(items, start=1):
            attributes: dict[str, Scalar] = {}
            if item in attribute_ids:
                attributes["attribute_ids"] = attribute_ids[item]
            if item in asins:
                attributes["asin"] = asins[item]
            yield build(
                Product, file.name, row, id=item, title=f"{name} item {item}", attributes=attributes
            )

    def events() -> Iterator[Event]:
        return sequence_events(format_name, name, file.name, read(file))

    return Dataset(name=name, products=Stream(products), events=Stream(events))


def _read_item_attributes(file: Path) -> dict[str, str]:
    """Item -> space-separated attribute ids, from ``<Name>_item2attributes.json`` if present."""
    side = file.with_name(f"{file.stem}_item2attributes.json")
    if not side.is_file():
        return {}
    with side.open(encoding="utf-8") as stream:
        raw = json.load(stream)
    if not isinstance(raw, dict):
        raise ValidationError(side.name, 1, "item2attributes", "expected a JSON object")
    attributes: dict[str, str] = {}
    for item, ids in raw.items():
        if not isinstance(ids, list):
            raise ValidationError(
                side.name, 1, str(item), f"expected a list of attribute ids, got {ids!r}"
            )
        attributes[str(item)] = " ".join(str(i) for i in ids)
    return attributes


def _read_id2asin(file: Path) -> dict[str, str]:
    """Item -> ASIN from ``asin/<Name>_id2asin.tsv`` (or the same name beside the file)."""
    for side in (
        file.parent / "asin" / f"{file.stem}_id2asin.tsv",
        file.with_name(f"{file.stem}_id2asin.tsv"),
    ):
        if side.is_file():
            break
    else:
        return {}
    asins: dict[str, str] = {}
    with side.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if row == 1 and not fields[0].strip().isdigit():
                continue  # header: s3rec_item_id<TAB>asin
            if len(fields) != 2 or not fields[1].strip():
                raise ValidationError(side.name, row, "line", "expected 'item<TAB>ASIN'")
            asins[fields[0].strip()] = fields[1].strip()
    return asins
