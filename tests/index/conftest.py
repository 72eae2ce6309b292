"""Index test fixtures: a small hand-written catalog."""

from __future__ import annotations

import pytest

from factories import small_catalog
from shopsense.domain import Product


@pytest.fixture(scope="session")
def products() -> list[Product]:
    return small_catalog()
