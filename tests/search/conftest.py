"""Search test fixtures: a small hand-written catalog and a fast deterministic encoder."""

from __future__ import annotations

import pytest

from factories import small_catalog as catalog
from search_helpers import HashingEncoder
from shopsense.domain import Product


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture(scope="session")
def products() -> list[Product]:
    return catalog()
