"""A three-product catalog and a tiny event log for the ranking unit tests."""

from __future__ import annotations

import numpy as np

from shopsense.domain import Product
from shopsense.ranking.items import EventArrays

PRODUCTS = [
    Product(id="a", title="Blue Mug", category="Home > Mugs", brand="X", price=10.0),
    Product(id="b", title="Red Mug", category="Home > Mugs", brand="Y", price=40.0),
    Product(id="c", title="Kettle", category="Home > Kettles", brand="X", in_stock=False),
]


def log_of(rows: list[tuple[int, int, str]]) -> EventArrays:
    """``(user, item, kind)`` rows, one second apart."""
    n = len(rows)
    return EventArrays(
        user=np.array([r[0] for r in rows], np.int64),
        item=np.array([r[1] for r in rows], np.int64),
        kind=np.array([r[2] for r in rows], np.str_),
        time=np.arange(n, dtype=np.int64) * 1_000_000,
        session=np.array([r[0] for r in rows], np.int64),
        request=np.full(n, -1, np.int64),
        position=np.full(n, -1, np.int64),
        propensity=np.full(n, np.nan),
    )
