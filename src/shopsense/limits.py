"""Input limits: every size, range and clock bound a record or a file must respect.

One table of them is in ``docs/limits.md``; the domain models (:mod:`shopsense.domain`) and
the file readers (:mod:`shopsense.ingest.files`) enforce them, and a refusal names the file,
row and field (or the request's JSON path). Integer ranges match the 32-bit ``INTEGER``
columns of both stores (PostgreSQL's is 32-bit; SQLite's would take more but the same data
must fit either).

Example::

    >>> from shopsense.limits import MAX_INT32, within_clock
    >>> MAX_INT32
    2147483647
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: Ids of products, shoppers, events, sessions and requests.
MAX_ID_CHARS = 256
#: Product titles (shown in lists; a search answer carries one per result).
MAX_TITLE_CHARS = 1_000
#: Product descriptions (indexed for search, never shown in lists).
MAX_DESCRIPTION_CHARS = 100_000
#: Brands and each level of a category path: labels.
MAX_LABEL_CHARS = 1_000
#: Levels of a category path (``Home > Kitchen > Knives`` has 3).
MAX_CATEGORY_LEVELS = 10
#: Attributes of one product, the length of a name and of a text value.
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_NAME_CHARS = 100
MAX_ATTRIBUTE_VALUE_CHARS = 1_000
#: Search queries.
MAX_QUERY_CHARS = 1_000
#: ``quantity`` and ``position``: the stores' INTEGER columns.
MAX_INT32 = 2**31 - 1
#: Prices (any currency): larger numbers are typing errors, and they must stay finite.
MAX_PRICE = 1e12
#: The earliest timestamp accepted.
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
#: How far in the future (by the receiver's clock) a timestamp may be, by default; the
#: setting ``max_clock_skew_s`` (``SHOPSENSE_MAX_CLOCK_SKEW_S``) overrides it.
DEFAULT_MAX_CLOCK_SKEW_S = 86_400.0
#: One line of a CSV, TSV or JSONL file (one record), in characters.
MAX_LINE_CHARS = 1_000_000
#: Columns of a CSV or TSV header.
MAX_COLUMNS = 1_000
#: Bytes a compressed (``.gz``) file may expand to.
MAX_DECOMPRESSED_BYTES = 64 * 2**30


def no_nul(value: str) -> str:
    """Refuse NUL characters (PostgreSQL cannot store them in text; no shop needs them)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\x00)")
    return value


def within_clock(
    value: datetime, max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S, now: datetime | None = None
) -> datetime:
    """``value`` if it lies between :data:`MIN_TIMESTAMP` and ``now + max_skew_s``."""
    if value < MIN_TIMESTAMP:
        raise ValueError(f"{value.isoformat()} is before {MIN_TIMESTAMP.date().isoformat()}")
    latest = (now or datetime.now(UTC)) + timedelta(seconds=max_skew_s)
    if value > latest:
        raise ValueError(
            f"{value.isoformat()} is in the future (more than {max_skew_s:g} s ahead of this "
            "machine's clock; the setting max_clock_skew_s allows more)"
        )
    return value
