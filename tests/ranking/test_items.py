"""The catalog as arrays and the item statistics of a log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from small_shop import PRODUCTS, log_of

from shopsense.domain import Product
from shopsense.ranking.items import ItemStats, ItemTable


def test_table_from_products_and_new_products_keep_old_rows() -> None:
    table = ItemTable.from_products(PRODUCTS)
    assert table.item_ids == ["a", "b", "c"] and table.n_leaves == 2
    assert table.leaf[0] == table.leaf[1] != table.leaf[2]
    assert table.price_z[1] > table.price_z[0]  # dearer within its leaf
    assert not table.in_stock[2] and "mug" in table.words[0]
    assert list(table.indices(["c", "nope", None])) == [2, -1, -1]
    grown = table.with_products([Product(id="d", title="Teapot", category="Home > Teapots")])
    assert grown.item_ids[:3] == table.item_ids and len(grown) == 4
    assert np.array_equal(grown.leaf[:3], table.leaf)


def test_table_round_trip(tmp_path: Path) -> None:
    table = ItemTable.from_products(PRODUCTS)
    table.save(tmp_path)
    again = ItemTable.load(tmp_path)
    assert again.item_ids == table.item_ids and again.words == table.words
    assert np.array_equal(again.price_z, table.price_z)


def test_stats_rate_lifts_known_answer() -> None:
    table = ItemTable.from_ids(["a", "b", "c"])
    rows = [(u, 0, "impression") for u in range(20)] + [(u, 1, "impression") for u in range(20)]
    rows += [(u, 0, "click") for u in range(10)]  # a: 10 of 20 shown clicked, b: none
    stats = ItemStats.from_log(log_of(rows), table)
    assert stats.ctr_logit[0] > 0 > stats.ctr_logit[1]
    assert stats.ctr_logit[2] == 0.0  # never shown: an ordinary item
    assert abs(stats.base_ctr - 11 / 42) < 1e-9  # (clicks + 1) / (shown + 2)
    assert stats.log_users[0] > stats.log_users[2]  # clicked by ten shoppers, c by none


def test_stats_without_clicks_say_nothing() -> None:
    table = ItemTable.from_ids(["a", "b"])
    stats = ItemStats.from_log(log_of([(0, 0, "impression"), (1, 1, "view")]), table)
    assert not stats.ctr_logit.any() and not stats.cvr_logit.any()


@given(st.integers(min_value=0, max_value=5))
def test_stats_extended_pads_new_items_as_unknown(extra: int) -> None:
    table = ItemTable.from_ids(["a", "b"])
    stats = ItemStats.from_log(log_of([(0, 0, "impression"), (0, 0, "click")]), table)
    grown = stats.extended(2 + extra)
    assert grown.ctr_logit.size == 2 + extra
    assert not grown.ctr_logit[2:].any()
    assert np.array_equal(grown.ctr_logit[:2], stats.ctr_logit)
