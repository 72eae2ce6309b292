"""Storage: catalog, event log and artifacts behind narrow interfaces.

Example::

    >>> from shopsense.config import Settings
    >>> from shopsense.store import open_store
    >>> store = open_store(Settings(database_url="sqlite://"))
    >>> store.catalog.count(), store.events.count()
    (0, 0)
"""

from __future__ import annotations

from shopsense.config import Settings
from shopsense.store.artifacts import ArtifactStore, Bundle
from shopsense.store.base import Catalog, EventBatch, EventLog
from shopsense.store.memory import InMemoryStore
from shopsense.store.sql import SqlStore

__all__ = [
    "ArtifactStore",
    "Bundle",
    "Catalog",
    "EventBatch",
    "EventLog",
    "InMemoryStore",
    "SqlStore",
    "open_store",
]


def open_store(settings: Settings) -> SqlStore:
    """The store the settings name: SQLite in the data dir unless a database URL is set."""
    return SqlStore(settings.database_url)
