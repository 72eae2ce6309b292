"""Shared fixtures: the stores every storage contract test runs on.

Set ``SHOPSENSE_TEST_POSTGRES_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/x``)
to run the contract on PostgreSQL too. Each pytest-xdist worker gets its own database on
that server: with one shared database, a worker truncating the tables between another
worker's write and read made the contract tests fail at random.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopsense.store import InMemoryStore, SqlStore

POSTGRES_URL = os.environ.get("SHOPSENSE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite-memory", "sqlite-file", "fake"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> str:
    """A database of this test worker's own on the ``SHOPSENSE_TEST_POSTGRES_URL`` server."""
    from sqlalchemy import create_engine, make_url, text

    assert POSTGRES_URL
    name = f"shopsense_test_{worker_id}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore | InMemoryStore]:
    """Every backend: the contract tests must pass on each."""
    backend: SqlStore | InMemoryStore
    if request.param == "sqlite-memory":
        backend = SqlStore("sqlite://")
    elif request.param == "sqlite-file":
        backend = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    elif request.param == "postgres":
        backend = SqlStore(request.getfixturevalue("postgres_url"))
        with backend.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE events, products, users, carts, forgotten")
    else:
        backend = InMemoryStore()
    yield backend
    backend.close()
