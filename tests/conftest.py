"""Shared fixtures: the stores every storage contract test runs on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shopsense.store import InMemoryStore, SqlStore


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "fake"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore | InMemoryStore]:
    """Every backend: the contract tests must pass on each."""
    backend: SqlStore | InMemoryStore
    if request.param == "sqlite-memory":
        backend = SqlStore("sqlite://")
    elif request.param == "sqlite-file":
        backend = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    else:
        backend = InMemoryStore()
    yield backend
    backend.close()
