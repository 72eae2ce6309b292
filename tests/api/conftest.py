"""A small trained sample shop and an API client over it, shared by the API tests."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
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


@pytest.fixture(scope="session")
def trained_shop(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A trained shop; copy it (``shop_copy``) before writing into it."""
    return build_shop(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def shop_copy(trained_shop: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    target = tmp_path_factory.mktemp("shop-copy") / "data"
    shutil.copytree(trained_shop.data_dir, target)
    return Settings(data_dir=target)


@pytest.fixture(scope="module")
def client(shop_copy: Settings) -> Iterator[TestClient]:
    """An API client (no search index) over this module's own copy of the shop."""
    app = create_app(shop_copy, ServeConfig(api_key=API_KEY), search=False)
    with TestClient(app) as test_client:
        yield test_client
