from __future__ import annotations

from shopsense.domain import Event
from shopsense.search.clicklog import judgments_from_events
from shopsense.store.base import EventBatch, event_row
from shopsense.synth import ShopConfig, generate_shop


def batch(events: list[Event]) -> EventBatch:
    return EventBatch.from_rows([event_row(e) for e in events])


def ev(n: int, kind: str, item: str | None = None, **extra: object) -> Event:
    return Event(
        event_id=f"e{n}",
        user_id="U1",
        session_id="S1",
        kind=kind,
        item_id=item,
        timestamp=f"2026-01-01T10:00:{n:02d}Z",
        **extra,
    )  # type: ignore[arg-type]


def test_best_action_after_a_served_search_is_the_grade() -> None:
    events = [
        ev(0, "search", query="Running  Shoes", request_id="R1"),
        ev(1, "impression", "P1", request_id="R1", position=0),
        ev(2, "impression", "P2", request_id="R1", position=1),
        ev(3, "impression", "P3", request_id="R1", position=2),
        ev(4, "click", "P2", request_id="R1", position=1),
        ev(5, "add_to_cart", "P2"),
        ev(6, "purchase", "P2", quantity=1),
        ev(7, "click", "P3", request_id="R1", position=2),
        ev(8, "add_to_cart", "P9"),  # never clicked from a search: ignored
        ev(9, "search", query="nothing clicked", request_id="R2"),
        ev(10, "impression", "P1", request_id="R2", position=0),
    ]
    (judged,) = judgments_from_events([batch(events)])
    assert judged.text == "running shoes"
    assert judged.grades == {"P1": 0, "P2": 3, "P3": 1}


def test_sample_shop_logs_give_judgments() -> None:
    shop = generate_shop(ShopConfig(n_products=200, n_users=60, seed=3))
    queries = judgments_from_events([batch(shop.events)])
    assert queries
    leaf_of = {p.id: p.category_path for p in shop.products}
    for q in queries[:20]:
        assert max(q.grades.values()) > 0
        assert all(pid in leaf_of for pid in q.grades)
