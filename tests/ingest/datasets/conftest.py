"""Fixtures for the dataset readers: the shared public datasets, when present."""

from __future__ import annotations

from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``<repo>/../shared/datasets``; the test is skipped when the folder is absent."""
    if not _SHARED.is_dir():
        pytest.skip(f"public datasets not found at {_SHARED.resolve()}")
    return _SHARED.resolve()
