"""Reader for Ali-CCP (Alibaba Click and Conversion Prediction, the ESMM dataset).

The layout is the preprocessed CSV of torch-rechub's ``ali_ccp_{train,val,test}.csv``:
header ``click,purchase,<field ids>``, one row per impression, label-encoded field values.
The field ids are Ali-CCP's own (dataset description, Ma et al., SIGIR 2018):

- user: ``101`` user id, ``121`` profile category, ``122`` profile group, ``124`` gender,
  ``125`` age, ``126`` / ``127`` consumption level, ``128`` occupation, ``129`` geography,
  ``109_14`` / ``110_14`` / ``127_14`` / ``150_14`` the user's category / shop / brand /
  intention-node history;
- item: ``205`` item id, ``206`` category id, ``207`` shop id, ``210`` intention node id,
  ``216`` brand id;
- combinations: ``508`` (109_14 x 206), ``509`` (110_14 x 207), ``702`` (127_14 x 216),
  ``853`` (150_14 x 210); ``301`` the position, as a category;
- ``D...`` columns: dense values torch-rechub derived from the fields of the same name.

Each row becomes an ``impression`` (position 0, request id ``aliccp:<file>:<row>``), then a
``click`` when ``click == 1`` and a ``purchase`` (quantity 1) when ``purchase == 1``. The
data has no times: row ``r`` of a file is placed at ``2000-01-01 + gap * split + r seconds``
(the click 100 ms and the purchase 200 ms later), where ``split`` is 0 for train, 1 for
val, 2 for test and ``gap`` is 1,000 days, so reading one file or the whole folder gives each
event the same id and time. Products are stubs (``item <id>``) with the item's category,
shop, intention-node and brand ids in their attributes (``category_id``, ``shop_id``,
``intention_id``, ``brand_id``), those all its rows agree on: the encoder maps rare items
to one shared id (``0`` in the samples, seen with many categories), which gets none.

:func:`load_aliccp` returns the rows as arrays for the multi-task (click + purchase) ranker.

Example::

    >>> sample = load_aliccp(Path("../shared/datasets/event-samples"))  # doctest: +SKIP
    >>> sample.features.shape  # doctest: +SKIP
    (200, 31)
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from shopsense.domain import Event, EventKind, Product, Scalar
from shopsense.errors import UnknownFormatError, ValidationError

from .base import Dataset, Stream, build, find_all, require_path

logger = logging.getLogger(__name__)

ALICCP = "aliccp"
USER_FIELD = "101"
ITEM_FIELD = "205"
#: Item fields copied into the product's attributes, by attribute name.
ITEM_ATTRIBUTE_FIELDS = {
    "206": "category_id",
    "207": "shop_id",
    "210": "intention_id",
    "216": "brand_id",
}
LABELS = ("click", "purchase")
ALICCP_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SPLIT_GAP = timedelta(days=1000)
_SPLITS = ("train", "val", "test")
_PATTERNS = ("*ali_ccp*.csv", "*aliccp*.csv", "*ali-ccp*.csv")


@dataclass(frozen=True)
class AliCcpSample:
    """Ali-CCP rows as arrays, in file order (train, val, test when a folder was read).

    ``features`` is ``(n_rows, n_fields)`` float64 (ids are label-encoded integers stored as
    floats, ``D...`` fields are dense values); ``click`` and ``purchase`` are ``(n_rows,)``
    int8 labels; ``field_names[j]`` names column ``j`` of ``features``; ``sources`` the
    files read, and ``rows_per_source`` how many rows each gave.
    """

    field_names: tuple[str, ...]
    features: NDArray[np.float64]
    click: NDArray[np.int8]
    purchase: NDArray[np.int8]
    sources: tuple[str, ...]
    rows_per_source: tuple[int, ...]

    @property
    def dense_fields(self) -> tuple[str, ...]:
        """Fields holding real values (torch-rechub's ``D...`` columns)."""
        return tuple(name for name in self.field_names if name.startswith("D"))

    @property
    def sparse_fields(self) -> tuple[str, ...]:
        """Fields holding label-encoded ids."""
        return tuple(name for name in self.field_names if not name.startswith("D"))

    def column(self, name: str) -> NDArray[np.float64]:
        """The ``(n_rows,)`` values of one field."""
        try:
            return self.features[:, self.field_names.index(name)]
        except ValueError:
            known = ", ".join(self.field_names)
            raise KeyError(f"no Ali-CCP field {name!r}; the fields are {known}") from None


def aliccp_files(path: Path) -> list[Path]:
    """The file itself, or a folder's Ali-CCP files ordered train, val, test."""
    require_path(path, ALICCP)
    if path.is_file():
        return [path]
    files = find_all(path, _PATTERNS)
    if not files:
        raise UnknownFormatError(
            f"no Ali-CCP file in {path} (looked for {', '.join(_PATTERNS)}); pass the file itself"
        )
    return sorted(files, key=lambda f: (_split_rank(f), f.name))


def load_aliccp(path: Path) -> AliCcpSample:
    """Read an Ali-CCP file (or a folder's train + val + test files) as arrays."""
    files = aliccp_files(path)
    field_names: tuple[str, ...] | None = None
    blocks: list[NDArray[np.float64]] = []
    for file in files:
        header = _header(file)
        if field_names is None:
            field_names = header
        elif header != field_names:
            raise ValidationError(
                file.name, 1, "header", f"the columns differ from those of {files[0].name}"
            )
        try:
            values = np.loadtxt(file, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
        except ValueError as exc:
            raise ValidationError(file.name, 0, "values", f"not all numbers: {exc}") from exc
        blocks.append(values.reshape(-1, len(header)))
    assert field_names is not None  # aliccp_files returns at least one file
    table = np.concatenate(blocks, axis=0)
    labels = [field_names.index(label) for label in LABELS]
    features = [j for j in range(len(field_names)) if j not in labels]
    return AliCcpSample(
        field_names=tuple(field_names[j] for j in features),
        features=np.ascontiguousarray(table[:, features]),
        click=table[:, labels[0]].astype(np.int8),
        purchase=table[:, labels[1]].astype(np.int8),
        sources=tuple(str(f) for f in files),
        rows_per_source=tuple(len(b) for b in blocks),
    )


def read_aliccp(path: Path) -> Dataset:
    """Products and impression / click / purchase events of Ali-CCP file(s)."""
    files = aliccp_files(path)
    name = files[0].stem if len(files) == 1 else _without_split(files[0].stem)

    def products() -> Iterator[Product]:
        first_seen: dict[str, tuple[Path, int]] = {}
        attributes: dict[str, dict[str, str | None]] = {}
        for file, row, values in _rows(files):
            item = values[ITEM_FIELD]
            known = attributes.get(item)
            if known is None:
                first_seen[item] = (file, row)
                attributes[item] = {
                    name: values[field]
                    for field, name in ITEM_ATTRIBUTE_FIELDS.items()
                    if field in values
                }
                continue
            for field, name in ITEM_ATTRIBUTE_FIELDS.items():
                if name in known and known[name] != values.get(field):
                    known[name] = None  # rows disagree: a shared bucket id, not one item
        for item, (file, row) in first_seen.items():
            agreed: dict[str, Scalar] = {
                name: value for name, value in attributes[item].items() if value is not None
            }
            yield build(Product, file.name, row, id=item, title=f"item {item}", attributes=agreed)

    def events() -> Iterator[Event]:
        for file, row, values in _rows(files):
            yield from _row_events(file, row, values)

    return Dataset(name=name, products=Stream(products), events=Stream(events))


def _row_events(file: Path, row: int, values: dict[str, str]) -> Iterator[Event]:
    request = f"{ALICCP}:{file.stem}:{row}"
    at = ALICCP_EPOCH + SPLIT_GAP * _split_rank(file) + timedelta(seconds=row)
    common = {"user_id": values[USER_FIELD], "item_id": values[ITEM_FIELD]}
    yield build(
        Event,
        file.name,
        row,
        event_id=f"{request}:impression",
        kind=EventKind.IMPRESSION,
        request_id=request,
        position=0,
        timestamp=at,
        **common,
    )
    if _label(file, row, "click", values["click"]):
        yield build(
            Event,
            file.name,
            row,
            event_id=f"{request}:click",
            kind=EventKind.CLICK,
            request_id=request,
            position=0,
            timestamp=at + timedelta(milliseconds=100),
            **common,
        )
    if _label(file, row, "purchase", values["purchase"]):
        yield build(
            Event,
            file.name,
            row,
            event_id=f"{request}:purchase",
            kind=EventKind.PURCHASE,
            quantity=1,
            timestamp=at + timedelta(milliseconds=200),
            **common,
        )


def _rows(files: list[Path]) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """(file, 1-based data row, field -> raw value) for every row of every file."""
    for file in files:
        header = _header(file)
        with file.open(encoding="utf-8", newline="") as stream:
            reader = csv.reader(stream)
            next(reader, None)
            for row, fields in enumerate(reader, start=1):
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise ValidationError(
                        file.name, row, "line", f"expected {len(header)} fields, got {len(fields)}"
                    )
                yield (
                    file,
                    row,
                    {name: value.strip() for name, value in zip(header, fields, strict=True)},
                )


def _header(file: Path) -> tuple[str, ...]:
    with file.open(encoding="utf-8", newline="") as stream:
        header = tuple(h.strip() for h in next(csv.reader(stream), []))
    missing = [c for c in (*LABELS, USER_FIELD, ITEM_FIELD) if c not in header]
    if missing:
        raise ValidationError(
            file.name,
            0,
            "header",
            f"missing column(s) {', '.join(missing)}; expected 'click,purchase,<field ids>' "
            "with the user (101) and item (205) fields",
        )
    return header


def _label(file: Path, row: int, name: str, value: str) -> bool:
    if value in ("0", "1"):
        return value == "1"
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number not in (0.0, 1.0):
        raise ValidationError(file.name, row, name, f"expected 0 or 1, got {value!r}")
    return number == 1.0


def _without_split(stem: str) -> str:
    """``ali_ccp_train_sample`` -> ``ali_ccp_sample``: the name of the files together."""
    parts = [p for p in stem.split("_") if p.lower() not in (*_SPLITS, "valid")]
    return "_".join(parts) or stem


def _split_rank(file: Path) -> int:
    """0 for a train file, 1 for val, 2 for test (by name); 0 when the name says none."""
    parts = file.stem.lower().replace("-", "_").split("_")
    for rank, split in enumerate(_SPLITS):
        if split in parts or (split == "val" and "valid" in parts):
            return rank
    return 0
