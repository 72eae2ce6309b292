"""Row readers for CSV, JSONL and Parquet files (optionally gzip-compressed).

Each reader yields ``(row_number, record)`` with 1-based data row numbers (the CSV header
is not a row) and records as plain dicts, after renaming columns through ``mapping``. A row
that cannot even be parsed (wrong number of CSV cells, broken JSON) comes as a
:class:`~shopsense.errors.ValidationError` in place of the dict, so the caller's skip
policy decides what happens to it.
Empty CSV cells become absent fields, so optional fields take their defaults. A UTF-8
byte-order mark (spreadsheet exports) is dropped. Limits (:mod:`shopsense.limits`): a line
of at most ``MAX_LINE_CHARS`` characters, at most ``MAX_COLUMNS`` columns, a ``.gz`` file
expanding to at most ``MAX_DECOMPRESSED_BYTES``; a damaged or truncated ``.gz`` is refused
by name, like every file that cannot be read.

Example::

    >>> from pathlib import Path
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.csv"
    >>> _ = p.write_text("sku,title\\nP1,Mug\\n")
    >>> list(read_records(p, {"sku": "id"}))
    [(1, {'id': 'P1', 'title': 'Mug'})]
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from shopsense.errors import UnknownFormatError, ValidationError
from shopsense.limits import MAX_COLUMNS, MAX_DECOMPRESSED_BYTES, MAX_LINE_CHARS

FORMATS = ("csv", "tsv", "jsonl", "parquet")

Record = tuple[int, dict[str, Any] | ValidationError]


def derive_event_id(record: dict[str, Any]) -> str:
    """A stable id from an event record's content, for files without an ``event_id``."""
    payload = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
    return "h:" + hashlib.sha1(payload.encode(), usedforsecurity=False).hexdigest()[:24]


def detect_format(path: Path) -> str:
    """The file format from its suffix (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``, ``+.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    known = {
        ".csv": "csv",
        ".tsv": "tsv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if suffix not in known:
        raise UnknownFormatError(
            f"{path}: unknown file type {suffix or '(none)'}; use .csv, .tsv, .jsonl or .parquet "
            "(optionally .gz)"
        )
    return known[suffix]


class _Capped(io.RawIOBase):
    """A decompressing stream that refuses to expand beyond ``limit`` bytes (gzip bombs)."""

    def __init__(self, path: Path, limit: int) -> None:
        self._path = path
        self._inner = gzip.open(path, "rb")  # noqa: SIM115 (closed by close())
        self._left = limit
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._inner.readinto(buffer)
        self._left -= n
        if self._left < 0:
            raise UnknownFormatError(
                f"{self._path}: expands to more than {self._limit:,} bytes; split the file"
            )
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig: a byte-order mark at the start (spreadsheet exports) is not part of the header
    if path.suffix.lower() == ".gz":
        stream = io.BufferedReader(_Capped(path, MAX_DECOMPRESSED_BYTES))
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _lines(handle: IO[str], path: Path) -> Iterator[str]:
    """The file's lines, refusing one longer than ``MAX_LINE_CHARS`` before reading it all."""
    number = 0
    while line := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise UnknownFormatError(
                f"{path}: line {number} is longer than {MAX_LINE_CHARS:,} characters; "
                "one record per line is expected"
            )
        yield line


def _check_width(path: Path, names: list[str]) -> None:
    if len(names) > MAX_COLUMNS:
        raise UnknownFormatError(
            f"{path}: {len(names):,} columns; at most {MAX_COLUMNS:,} are read"
        )


@contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turn decoding and parsing failures of a whole file into one clear error."""
    import pyarrow as pa

    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UnknownFormatError(
            f"{path}: damaged or truncated gzip file ({exc}); compress it again or drop .gz "
            "from a name of a plain file"
        ) from exc
    except UnicodeDecodeError as exc:
        raise UnknownFormatError(
            f"{path}: not UTF-8 text ({exc.reason}); re-save it as UTF-8"
        ) from exc
    except csv.Error as exc:
        raise UnknownFormatError(f"{path}: unreadable CSV: {exc}") from exc
    except pa.ArrowException as exc:
        raise UnknownFormatError(f"{path}: unreadable Parquet file: {exc}") from exc


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise UnknownFormatError(f"{path}: no such file")


def read_header(path: Path, mapping: Mapping[str, str] | None = None) -> list[str]:
    """The column names the records will carry (after renaming)."""
    _require_file(path)
    fmt = detect_format(path)
    names: list[str]
    if fmt in ("csv", "tsv"):
        with readable(path), _open_text(path) as handle:
            reader = csv.reader(_lines(handle, path), delimiter="\t" if fmt == "tsv" else ",")
            names = next(reader, [])
            _check_width(path, names)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        with readable(path):
            names = list(pq.ParquetFile(path).schema_arrow.names)
    else:
        seen: dict[str, None] = {}
        with readable(path):
            for _, record in _read_jsonl(path, {}, limit=1000):
                if isinstance(record, dict):
                    seen.update(dict.fromkeys(record))
        names = list(seen)
    mapping = mapping or {}
    return [mapping.get(n.strip(), n.strip()) for n in names]


def read_records(path: Path, mapping: Mapping[str, str] | None = None) -> Iterator[Record]:
    """Stream ``(row_number, record)`` pairs from a CSV, TSV, JSONL or Parquet file."""
    _require_file(path)
    fmt = detect_format(path)
    mapping = dict(mapping or {})
    with readable(path):
        if fmt in ("csv", "tsv"):
            yield from _read_csv(path, mapping, "\t" if fmt == "tsv" else ",")
        elif fmt == "jsonl":
            yield from _read_jsonl(path, mapping)
        else:
            yield from _read_parquet(path, mapping)


def _read_csv(path: Path, mapping: dict[str, str], delimiter: str) -> Iterator[Record]:
    with _open_text(path) as handle:
        reader = csv.reader(_lines(handle, path), delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        _check_width(path, header)
        names = [mapping.get(h.strip(), h.strip()) for h in header]
        width = len(names)
        for number, cells in enumerate(reader, start=1):
            if not cells:
                continue
            if len(cells) != width:
                yield (
                    number,
                    ValidationError(
                        path.name,
                        number,
                        "(row)",
                        f"has {len(cells)} cells but the header has {width} columns",
                    ),
                )
                continue
            yield number, {n: c for n, c in zip(names, cells, strict=True) if c != ""}


def _read_jsonl(path: Path, mapping: dict[str, str], limit: int | None = None) -> Iterator[Record]:
    with _open_text(path) as handle:
        number = 0
        for line in _lines(handle, path):
            if not line.strip():
                continue
            number += 1
            if limit is not None and number > limit:
                return
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    number,
                    ValidationError(path.name, number, "(row)", f"invalid JSON: {exc.msg}"),
                )
                continue
            if not isinstance(record, dict):
                yield number, ValidationError(path.name, number, "(row)", "expected a JSON object")
                continue
            if len(record) > MAX_COLUMNS:
                reason = f"has {len(record):,} fields; at most {MAX_COLUMNS:,} are read"
                yield number, ValidationError(path.name, number, "(row)", reason)
                continue
            yield number, {str(mapping.get(k, k)): v for k, v in record.items() if v is not None}


def _read_parquet(path: Path, mapping: dict[str, str]) -> Iterator[Record]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names: list[str] = [mapping.get(n, n) for n in parquet.schema_arrow.names]
    number = 0
    for batch in parquet.iter_batches(batch_size=50_000):
        columns = [column.to_pylist() for column in batch.columns]
        for values in zip(*columns, strict=True):
            number += 1
            yield number, {n: v for n, v in zip(names, values, strict=True) if v is not None}
