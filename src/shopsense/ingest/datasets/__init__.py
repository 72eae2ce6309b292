"""Readers for public recommendation datasets, one module per format.

Each reader turns a dataset into the shop's vocabulary: a :class:`Dataset` of
:class:`~shopsense.domain.Product` and :class:`~shopsense.domain.Event` streams (lazy and
re-iterable; events grouped by user, each user's in time order, with deterministic ids so
ingesting a dataset twice stores nothing new).

=============  ===============================================  ===========================
format         layout                                           events
=============  ===============================================  ===========================
``s3rec``      ``Beauty.txt``: ``user item item ...``            purchase, synthesized times
``sasrec``     ``Video.txt``: ``user item`` per line             purchase, synthesized times
``unisrec``    ``Name.text`` + ``Name.{train,valid,test}.inter``  purchase, synthesized times
``diginetica`` ``session;user;item;timeframe;eventdate``         view
``yoochoose``  ``session,timestamp,item,category``               click
``aliccp``     ``click,purchase,<field ids>``                    impression, click, purchase
=============  ===============================================  ===========================

``path`` may be the file or the folder that holds it.

Example::

    >>> from pathlib import Path
    >>> beauty = Path("../shared/datasets/amazon-s3rec/Beauty.txt")
    >>> dataset = read_dataset("s3rec", beauty)  # doctest: +SKIP
    >>> sum(1 for _ in dataset.events)  # doctest: +SKIP
    198502
    >>> read_sequences("s3rec", beauty)["1"]  # doctest: +SKIP
    ['1', '2', '3', '4', '5']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shopsense.errors import UnknownFormatError

from .aliccp import AliCcpSample, load_aliccp, read_aliccp
from .base import SEQUENCE_EPOCH, Dataset, Stream, require_path
from .diginetica import read_diginetica
from .sequences import (
    detect_sequence_format,
    read_s3rec,
    read_s3rec_sequences,
    read_sasrec,
    read_sasrec_sequences,
)
from .unisrec import read_unisrec, read_unisrec_sequences
from .yoochoose import read_yoochoose

__all__ = [
    "FORMATS",
    "SEQUENCE_EPOCH",
    "SEQUENCE_FORMATS",
    "AliCcpSample",
    "Dataset",
    "Stream",
    "detect_sequence_format",
    "load_aliccp",
    "read_dataset",
    "read_sequences",
]

#: Format name -> reader of products and events.
FORMATS: dict[str, Callable[[Path], Dataset]] = {
    "s3rec": read_s3rec,
    "sasrec": read_sasrec,
    "unisrec": read_unisrec,
    "diginetica": read_diginetica,
    "yoochoose": read_yoochoose,
    "aliccp": read_aliccp,
}

#: Format name -> reader of user -> ordered item ids (the sequence datasets only).
SEQUENCE_FORMATS: dict[str, Callable[[Path], dict[str, list[str]]]] = {
    "s3rec": read_s3rec_sequences,
    "sasrec": read_sasrec_sequences,
    "unisrec": read_unisrec_sequences,
}


def read_dataset(format: str, path: Path | str) -> Dataset:
    """Read the dataset at ``path`` (a file or its folder) in the named format.

    Raises :class:`~shopsense.errors.UnknownFormatError` for an unknown format (the message
    lists the known ones) or a path that does not exist, and
    :class:`~shopsense.errors.ValidationError` (file, row, field) for an invalid record,
    while the streams are read.

    >>> read_dataset("csv", Path("."))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopsense.errors.UnknownFormatError: unknown dataset format 'csv'; known formats: aliccp, ...
    """
    reader = FORMATS.get(format)
    if reader is None:
        raise UnknownFormatError(
            f"unknown dataset format {format!r}; known formats: {', '.join(sorted(FORMATS))}"
        )
    return reader(require_path(Path(path), format))


def read_sequences(format: str, path: Path | str) -> dict[str, list[str]]:
    """User -> item ids in the order of the file, for the sequence formats.

    The offline evaluator reads this directly, without the store. Ids are those the
    :class:`Dataset` of the same path uses (ASINs and reviewer ids for ``unisrec``).
    """
    reader = SEQUENCE_FORMATS.get(format)
    if reader is None:
        known = ", ".join(sorted(SEQUENCE_FORMATS))
        if format in FORMATS:
            raise UnknownFormatError(
                f"{format!r} is an event log, not a sequence dataset; read_sequences handles "
                f"{known}. Use read_dataset({format!r}, path) for its events"
            )
        raise UnknownFormatError(
            f"unknown sequence format {format!r}; known sequence formats: {known}"
        )
    return reader(require_path(Path(path), format))
