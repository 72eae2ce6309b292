"""Re-consumption is learned per category: coffee comes back, a sofa does not."""

from __future__ import annotations

import numpy as np

from factories import T0, event, product
from shopsense.dataset import Dataset
from shopsense.ranking.items import ItemTable
from shopsense.ranking.logged import event_arrays
from shopsense.ranking.repeats import RepeatPolicy


def _shop() -> tuple[ItemTable, RepeatPolicy]:
    products = [
        product(1, category="Food > Coffee"),
        product(2, category="Food > Coffee"),
        product(3, category="Home > Sofas"),
        product(4, category="Home > Sofas"),
    ]
    events = []
    k = 0
    for u in range(30):
        user = f"U{u}"
        # Each shopper buys the same coffee three times and one sofa once.
        for _ in range(3):
            k += 1
            events.append(event(k, user=user, item="P1", kind="purchase", quantity=1))
            k += 1
            events.append(event(k, user=user, item="P2", kind="view"))
        k += 1
        events.append(event(k, user=user, item="P3", kind="purchase", quantity=1))
    data = Dataset.from_events(events, products)
    table = ItemTable.from_products(list(data.products))
    log, _, _ = event_arrays(data.events, table)
    return table, RepeatPolicy.learn(log, table)


def test_consumables_come_back_and_sofas_do_not() -> None:
    table, policy = _shop()
    coffee = table.leaf_names.index("Food > Coffee")
    sofas = table.leaf_names.index("Home > Sofas")
    assert policy.allows_seen[coffee] and not policy.allows_seen[sofas]
    mask = np.ones(len(table), bool)
    seen = [table.index["P1"], table.index["P3"]]
    allowed = policy.allowed(table, seen, mask)
    assert allowed[table.index["P1"]] and not allowed[table.index["P3"]]
    assert not policy.allowed(table, seen, mask, exclude_seen=True)[table.index["P1"]]
    assert policy.allowed(table, seen, mask, exclude_seen=False)[table.index["P3"]]
    assert T0.year == 2026  # the factories' clock


def test_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, policy = _shop()
    policy.save(tmp_path)
    loaded = RepeatPolicy.load(tmp_path)
    assert np.allclose(loaded.share, policy.share) and loaded.threshold == policy.threshold
