"""Shared fixtures: the stores every storage contract test runs on.

Set ``SHOPSENSE_TEST_POSTGRES_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/x``)
to run the contract on PostgreSQL too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopsense.store import InMemoryStore, SqlStore

POSTGRES_URL = os.environ.get("SHOPSENSE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite-memory", "sqlite-file", "fake"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore | InMemoryStore]:
    """Every backend: the contract tests must pass on each."""
    backend: SqlStore | InMemoryStore
    if request.param == "sqlite-memory":
        backend = SqlStore("sqlite://")
    elif request.param == "sqlite-file":
        backend = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    elif request.param == "postgres":
        assert POSTGRES_URL
        backend = SqlStore(POSTGRES_URL)
        with backend.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE events, products, users")
    else:
        backend = InMemoryStore()
    yield backend
    backend.close()
