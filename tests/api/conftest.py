"""A small trained sample shop and an API client over it, shared by the API tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from api_helpers import API_KEY, build_shop
from fastapi.testclient import TestClient

from shopsense.api import ServeConfig, create_app
from shopsense.config import Settings


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
