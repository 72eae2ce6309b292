"""ShopSense exception tree.

Every error ShopSense raises on purpose derives from :class:`ShopSenseError`, so callers
(the CLI, the API) can catch one type and show its message without a traceback::

    ShopSenseError
    ├── ConfigError            a setting is missing or invalid
    ├── ValidationError        one input record is invalid (names source, row and field)
    │   └── IngestError        a whole file was refused; nothing from it was written
    ├── StoreError             the store could not read or write (database, disk)
    ├── UnknownFormatError     a file or dataset format that no reader handles
    ├── NotFoundError          an id the store does not hold (a shopper, a product)
    └── ModelError             a model was used before fit(), or a saved model is unreadable

Messages say what was wrong and how to fix it, in one line where possible.
"""

from __future__ import annotations


class ShopSenseError(Exception):
    """Base class of every error ShopSense raises on purpose."""


class ConfigError(ShopSenseError):
    """A setting is missing or has an invalid value."""


class ValidationError(ShopSenseError):
    """One input record is invalid.

    ``source`` is the file (or "request"), ``row`` the 1-based data row (0 for a problem
    with a whole column), ``field`` the offending field; ``reason`` says what is wrong.
    """

    def __init__(self, source: str, row: int, field: str, reason: str) -> None:
        self.source = source
        self.row = row
        self.field = field
        self.reason = reason
        if row > 0:
            super().__init__(f"{source}: row {row}, field '{field}': {reason}")
        else:
            super().__init__(f"{source}: column '{field}' {reason}")


class IngestError(ValidationError):
    """A file was refused as a whole (all-or-nothing); nothing from it was written.

    Carries the first failures in ``failures`` and their total count in ``total``.
    """

    def __init__(self, failures: list[ValidationError], total: int) -> None:
        first = failures[0]
        self.failures = failures
        self.total = total
        super().__init__(first.source, first.row, first.field, first.reason)
        more = f" ({total - 1} more invalid rows)" if total > 1 else ""
        self.args = (
            f"{first}{more}; nothing was written. Fix the file or pass --skip-invalid "
            "to store the valid rows.",
        )


class StoreError(ShopSenseError):
    """The store could not read or write."""


class UnknownFormatError(ShopSenseError):
    """No reader handles this file or dataset format."""


class NotFoundError(ShopSenseError):
    """An id the store does not hold (a shopper, a product)."""


class ModelError(ShopSenseError):
    """A model was used before fit(), or a saved model could not be read."""
