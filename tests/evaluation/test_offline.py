"""Offline ranking evaluation at the edges of the data."""

from __future__ import annotations

import pytest

from shopsense.evaluation.offline import evaluate
from shopsense.evaluation.split import leave_one_out
from shopsense.features.interactions import InteractionData
from shopsense.models import Popularity


@pytest.mark.parametrize("exclude_history", [True, False])
def test_a_catalog_smaller_than_k_is_ranked_whole(exclude_history: bool) -> None:
    """Regression (issue 12): a shop of 5 products crashed `evaluate` and `train` with
    ``ValueError: kth(=19) out of bounds``; the whole catalog is now the list."""
    sequences = {f"u{u}": [f"p{(u + k) % 5}" for k in range(4)] for u in range(12)}
    split = leave_one_out(InteractionData.from_sequences(sequences))
    metrics = evaluate(Popularity(), split, "test", ks=(5, 10, 20))
    assert metrics["users"] == 12
    # every product is in the list at 5, so nothing more can be hit at 10 or 20
    assert metrics["HR@5"] == metrics["HR@10"] == metrics["HR@20"]
    assert 0 < metrics["Coverage@20"] <= 1
