"""Constants and helpers shared by the API tests (a uniquely named module: every test folder
has a ``conftest``, so importing from ``conftest`` would pick whichever loaded first)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from shopsense.config import Settings
from shopsense.demo import run_demo

API_KEY = "test-key"
HEADERS = {"X-API-Key": API_KEY}


def build_shop(directory: Path, products: int = 300, users: int = 100) -> Settings:
    """Generate, ingest and train the sample shop into ``directory`` (quietly)."""
    settings = Settings(data_dir=directory)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_demo(settings, n_products=products, n_users=users, seed=3) == 0
    return settings
