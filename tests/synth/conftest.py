"""Shared sample shops: generated once per test session (the medium one takes ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsense.synth import SampleShop, ShopConfig, ShopFiles, generate_shop, write_shop

SMALL = ShopConfig(n_products=200, n_users=50, seed=11)
MEDIUM = ShopConfig(n_products=1500, n_users=1000, seed=5)


@pytest.fixture(scope="session")
def small_config() -> ShopConfig:
    return SMALL


@pytest.fixture(scope="session")
def small_shop() -> SampleShop:
    return generate_shop(SMALL)


@pytest.fixture(scope="session")
def medium_shop() -> SampleShop:
    return generate_shop(MEDIUM)


@pytest.fixture(scope="session")
def written_small_shop(
    small_shop: SampleShop, tmp_path_factory: pytest.TempPathFactory
) -> ShopFiles:
    directory: Path = tmp_path_factory.mktemp("sample-shop")
    return write_shop(small_shop, directory)
