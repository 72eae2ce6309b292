"""Feature rows for (shopper, candidate) pairs."""

from __future__ import annotations

import numpy as np
from small_shop import PRODUCTS, log_of

from shopsense.ranking.features import FeatureBuilder, blended
from shopsense.ranking.items import ItemStats, ItemTable
from shopsense.ranking.shopper import shopper_state


def test_rows_have_one_column_per_name_and_read_the_history() -> None:
    table = ItemTable.from_products(PRODUCTS)
    stats = ItemStats.from_log(log_of([(0, 0, "impression"), (0, 0, "click")]), table)
    builder = FeatureBuilder(table, stats, ("als",), blend={"als": 1.0}, probabilistic=("als",))
    state = shopper_state(table, [("a", "view", 0), ("b", "impression", 1)])
    scores = {"als": np.log(np.array([0.5, 0.3, 0.2]))}
    rows = builder.build(state, np.array([0, 1, 2]), scores, now_us=10)
    names = builder.feature_names
    assert rows.shape == (3, builder.n_features) == (3, len(names))
    column = {n: rows[:, k] for k, n in enumerate(names)}
    assert np.allclose(column["als.log_rank"], np.log1p([0, 1, 2]))
    assert np.allclose(column["als.log_prob"], scores["als"])
    assert list(column["is_last"]) == [1.0, 0.0, 0.0]
    assert np.allclose(column["log_skips"], np.log1p([0, 1, 0]))
    assert column["leaf_share"][0] == 1.0 and column["leaf_share"][2] == 0.0


def test_blended_known_answer() -> None:
    scores = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([3.0, 2.0, 1.0])}
    assert blended(scores, {"a": 1.0})[2] > blended(scores, {"a": 1.0})[0]
    even = blended(scores, {"a": 1.0, "b": 1.0})
    assert np.allclose(even, even[0])  # equal weights of opposite orders cancel
