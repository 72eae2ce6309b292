"""GroundTruth: persistence, the behaviour functions, and that utility drives behaviour."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopsense.domain import EventKind
from shopsense.synth import GroundTruth, SampleShop, ShopFiles


def test_save_load_round_trip(small_shop: SampleShop, written_small_shop: ShopFiles) -> None:
    truth = small_shop.truth
    loaded = GroundTruth.load(written_small_shop.truth)
    at = truth.start + timedelta(days=17, hours=5)
    for user in truth.user_ids[:10]:
        np.testing.assert_array_equal(
            loaded.utility(user, truth.item_ids, at), truth.utility(user, truth.item_ids, at)
        )
        item = truth.item_ids[3]
        assert loaded.click_probability(user, item, 2, at) == truth.click_probability(
            user, item, 2, at
        )
        assert loaded.purchase_probability(user, item) == truth.purchase_probability(user, item)
    assert loaded.complements == truth.complements
    assert loaded.params == truth.params
    assert (loaded.start, loaded.end) == (truth.start, truth.end)


def test_load_refuses_another_format(small_shop: SampleShop, tmp_path: Path) -> None:
    small_shop.truth.save(tmp_path)
    meta = (tmp_path / "truth.json").read_text(encoding="utf-8")
    (tmp_path / "truth.json").write_text(
        meta.replace('"format_version": 1', '"format_version": 99'), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="format version"):
        GroundTruth.load(tmp_path)


@settings(max_examples=50, deadline=None)
@given(user=st.integers(0, 49), item=st.integers(0, 199), position=st.integers(0, 48))
def test_click_probability_falls_with_position(
    small_shop: SampleShop, user: int, item: int, position: int
) -> None:
    truth = small_shop.truth
    user_id, item_id = truth.user_ids[user], truth.item_ids[item]
    higher = truth.click_probability(user_id, item_id, position)
    lower = truth.click_probability(user_id, item_id, position + 1)
    assert 0.0 < lower < higher < 1.0


def test_complement_context_raises_purchase_probability(small_shop: SampleShop) -> None:
    truth = small_shop.truth
    category = dict(zip(truth.item_ids, truth.item_category, strict=True))
    phone = next(
        i for i in truth.item_ids if truth.category_paths[category[i]].endswith("Smartphones")
    )
    case = next(
        i
        for i in truth.item_ids
        if truth.category_paths[category[i]].endswith("Phone Cases")
        and truth.item_in_stock[truth.item_index(i)]
    )
    user = truth.user_ids[0]
    plain = truth.purchase_probability(user, case)
    assert truth.purchase_probability(user, case, after_purchase_of=phone) > plain


def test_out_of_stock_items_cannot_be_bought(small_shop: SampleShop) -> None:
    truth = small_shop.truth
    sold_out = [i for i, ok in zip(truth.item_ids, truth.item_in_stock, strict=True) if not ok]
    assert sold_out
    assert truth.purchase_probability(truth.user_ids[0], sold_out[0]) == 0.0


def test_unknown_ids_are_named(small_shop: SampleShop) -> None:
    with pytest.raises(KeyError, match="U9999"):
        small_shop.truth.utility("U9999", ["P00001"])
    with pytest.raises(KeyError, match="P99999"):
        small_shop.truth.click_probability("U0001", "P99999", 0)


def test_shoppers_buy_what_they_like(medium_shop: SampleShop) -> None:
    truth = medium_shop.truth
    shown: list[float] = []
    bought: list[float] = []
    for n, event in enumerate(medium_shop.events):
        if event.kind is EventKind.PURCHASE or (event.kind is EventKind.IMPRESSION and n % 7 == 0):
            assert event.item_id is not None
            value = float(truth.utility(event.user_id, [event.item_id], event.timestamp)[0])
            (bought if event.kind is EventKind.PURCHASE else shown).append(value)
    assert np.mean(bought) > np.mean(shown) + 1.0


def test_knowing_tastes_beats_popularity(medium_shop: SampleShop) -> None:
    """Ranking by true utility finds the clicks of the last 20 days better than
    ranking by the clicks of the first 40 days."""
    truth = medium_shop.truth
    split = truth.end - timedelta(days=20)
    popularity: Counter[str] = Counter()
    future: dict[str, set[str]] = defaultdict(set)
    for event in medium_shop.events:
        if event.kind is EventKind.CLICK and event.item_id is not None:
            if event.timestamp < split:
                popularity[event.item_id] += 1
            else:
                future[event.user_id].add(event.item_id)
    k = 50
    popular = {item for item, _ in popularity.most_common(k)}
    items = np.array(truth.item_ids)
    hits_utility = hits_popular = total = 0
    for user, clicked in future.items():
        top = set(items[np.argsort(-truth.utility(user, truth.item_ids, split))[:k]])
        hits_utility += len(clicked & top)
        hits_popular += len(clicked & popular)
        total += len(clicked)
    assert hits_utility > 1.5 * hits_popular


def test_popularity_rises_and_fades(medium_shop: SampleShop) -> None:
    truth = medium_shop.truth
    items = np.arange(len(truth.item_ids))
    by_day = np.stack([truth.log_popularity(items, day) for day in range(0, 61, 5)])
    swing = by_day.max(axis=0) - by_day.min(axis=0)
    assert np.mean(swing > 0.5) > 0.1  # a good share of products trend
    peak_inside = (by_day.argmax(axis=0) > 0) & (by_day.argmax(axis=0) < by_day.shape[0] - 1)
    assert np.mean(peak_inside & (swing > 0.5)) > 0.05  # ... and fade again
