"""The storage contract, run on SQLite (memory and file) and the in-memory fake."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import T0, event, product
from shopsense.domain import EventKind
from shopsense.store import InMemoryStore, SqlStore
from shopsense.store.base import event_row


def test_same_event_id_is_stored_once(store: SqlStore | InMemoryStore) -> None:
    assert store.events.append([event(1), event(2)]) == 2
    assert store.events.append([event(1), event(3)]) == 1
    assert store.events.count() == 3


def test_repeated_id_inside_one_batch_is_stored_once(store: SqlStore | InMemoryStore) -> None:
    assert store.events.append([event(1), event(1)]) == 1
    assert store.events.count() == 1


def test_catalog_upsert_replaces_and_keeps_created_at(store: SqlStore | InMemoryStore) -> None:
    created = datetime(2025, 5, 1, tzinfo=UTC)
    store.catalog.upsert([product(1, created_at=created), product(2)])
    store.catalog.upsert([product(1, title="New title")])
    assert store.catalog.count() == 2
    found = store.catalog.get("P1")
    assert found is not None
    assert found.title == "New title"
    assert found.created_at == created
    assert found.category == ("Home", "Kitchen")


def test_get_many_keeps_the_asked_order_and_skips_unknown(store: SqlStore | InMemoryStore) -> None:
    store.catalog.upsert([product(i) for i in range(5)])
    assert [p.id for p in store.catalog.get_many(["P3", "nope", "P1"])] == ["P3", "P1"]


def test_writer_rolls_back_everything_on_error(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(1)])
    with pytest.raises(RuntimeError), store.events.writer() as writer:
        writer.append([event(2), event(3)])
        raise RuntimeError("boom")
    assert store.events.count() == 1
    with pytest.raises(RuntimeError), store.catalog.writer() as catalog:
        catalog.upsert([product(9)])
        raise RuntimeError("boom")
    assert store.catalog.count() == 0


def test_streaming_reads_in_batches_keep_storage_order(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(i, user=f"U{i % 3}") for i in range(25)])
    batches = list(store.events.iter_batches(batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    ids = np.concatenate([b.event_id for b in batches])
    assert list(ids) == [f"E{i}" for i in range(25)]
    assert batches[0].timestamp.dtype == np.int64
    assert set(batches[0].kind) == {"view"}


def test_counts(store: SqlStore | InMemoryStore) -> None:
    store.events.append(
        [event(1), event(2, kind="purchase", quantity=2, price=3.0), event(3, user="U2")]
    )
    assert store.events.count() == 3
    assert store.events.user_count() == 2
    by_kind = store.events.count_by_kind()
    assert by_kind[EventKind.VIEW] == 2
    assert by_kind[EventKind.PURCHASE] == 1
    assert by_kind[EventKind.SEARCH] == 0


def test_user_history_is_latest_events_oldest_first(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(i, item=f"P{i}") for i in range(10)] + [event(99, user="U2")])
    history = store.events.user_history("U1", limit=3)
    assert [e.item_id for e in history] == ["P7", "P8", "P9"]
    assert history[0].timestamp.tzinfo is not None


def test_appended_since_reads_what_was_stored_after_a_mark(
    store: SqlStore | InMemoryStore,
) -> None:
    assert store.events.last_seq() == 0
    store.events.append([event(1, item="P1"), event(2, item="P2")])
    mark = store.events.last_seq()
    store.events.append([event(1), event(3, item="P3", user="U2"), event(4, item="P4")])
    after = store.events.appended_since(mark)
    assert [(a.event_id, a.user_id, a.item_id) for a in after] == [
        ("E3", "U2", "P3"),
        ("E4", "U1", "P4"),
    ]  # the repeated E1 was not stored again, so is not read again
    assert [a.seq for a in after] == sorted(a.seq for a in after)
    assert after[-1].seq == store.events.last_seq()
    assert after[0].kind is EventKind.VIEW
    assert after[0].timestamp.tzinfo is not None
    assert store.events.appended_since(store.events.last_seq()) == []
    assert len(store.events.appended_since(0, limit=3)) == 3
    # a number asked for again (a gap a follower remembered) is read again
    first = store.events.appended_since(0, limit=1)[0]
    again = store.events.appended_since(after[0].seq, also=[first.seq])
    assert [a.event_id for a in again] == ["E1", "E4"]


def test_delete_user_removes_all_their_events(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(i, user="U1") for i in range(4)] + [event(10, user="U2")])
    assert store.events.delete_user("U1") == 4
    assert store.events.count() == 1
    assert store.events.user_count() == 1
    assert store.events.user_history("U1") == []


def test_search_events_round_trip(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(1, kind="search", item=None, query="red mug")])
    (stored,) = store.events.user_history("U1")
    assert stored.kind is EventKind.SEARCH
    assert stored.query == "red mug"
    assert stored.item_id is None


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.integers(min_value=0, max_value=30), max_size=40))
def test_appending_any_sequence_twice_changes_nothing(ids: list[int]) -> None:
    store = SqlStore("sqlite://")
    batch = [event(i) for i in ids]
    first = store.events.append(batch)
    assert first == len(set(ids))
    assert store.events.append(batch) == 0
    assert store.events.count() == len(set(ids))


def test_timestamps_round_trip_exactly(store: SqlStore | InMemoryStore) -> None:
    moment = T0.replace(microsecond=123456)
    store.events.append([event(1, timestamp=moment)])
    (stored,) = store.events.user_history("U1")
    assert stored.timestamp == moment


def test_impressions_keep_their_propensity(store: SqlStore | InMemoryStore) -> None:
    store.events.append(
        [event(1, kind="impression", request_id="R1", position=3, propensity=0.25), event(2)]
    )
    shown, viewed = store.events.user_history("U1")
    assert (shown.propensity, shown.position, viewed.propensity) == (0.25, 3, None)
    (batch,) = store.events.iter_batches()
    assert batch.propensity[0] == 0.25 and np.isnan(batch.propensity[1])


def test_rows_are_stored_as_their_events_would_be(store: SqlStore | InMemoryStore) -> None:
    """``append_rows`` (the server's impressions, no Event per row) stores what ``append``
    of the same events stores: every column and type, once."""
    batch = [
        event(1, kind="impression", request_id="R1", position=0, propensity=0.25,
              session_id="S1", query="tasse à café \"bleue\""),
        event(2, user="U2", kind="purchase", quantity=3, price=12.5,
              timestamp=T0.replace(microsecond=654321)),
    ]  # fmt: skip
    rows = [event_row(e) for e in batch]
    assert store.events.append_rows(rows) == 2
    assert store.events.append_rows(rows) == 0
    assert [event_row(e) for e in store.events.user_history("U1")] == rows[:1]
    assert [event_row(e) for e in store.events.user_history("U2")] == rows[1:]
    assert store.events.user_count() == 2


def test_a_database_from_before_propensity_gains_the_column(tmp_path: Path) -> None:
    """Regression: opening an older database must add ``events.propensity`` (nullable)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id VARCHAR(256) NOT NULL "
            "UNIQUE, user_id VARCHAR(256) NOT NULL, session_id VARCHAR(256), kind VARCHAR(16) "
            "NOT NULL, item_id VARCHAR(256), query TEXT, request_id VARCHAR(256), position "
            "INTEGER, quantity INTEGER, price FLOAT, timestamp BIGINT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO events (event_id, user_id, kind, item_id, timestamp) "
            "VALUES ('old', 'U1', 'view', 'P1', 0)"
        )
    store = SqlStore(url)
    store.events.append([event(2, propensity=0.5)])
    old, new = store.events.user_history("U1")
    assert (old.event_id, old.propensity, new.propensity) == ("old", None, 0.5)


def test_carts_keep_lines_in_order_and_checkout_empties_them(
    store: SqlStore | InMemoryStore,
) -> None:
    store.carts.add("U1", "P2")
    store.carts.add("U1", "P1", 2)
    store.carts.add("U1", "P2")
    store.carts.add("U2", "P1")
    assert store.carts.get("U1") == {"P2": 2, "P1": 2}
    assert list(store.carts.get("U1")) == ["P2", "P1"]
    store.carts.set("U1", "P1", 5)
    store.carts.set("U1", "P2", 0)
    assert store.carts.get("U1") == {"P1": 5}
    assert store.carts.take("U1") == {"P1": 5}
    assert store.carts.get("U1") == {} and store.carts.take("U1") == {}
    assert store.carts.get("U2") == {"P1": 1}


def test_carts_survive_reopening_the_database(tmp_path: Path) -> None:
    """Regression (issue 12): carts lived in server memory; a restart lost them all."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    first = SqlStore(url)
    first.carts.add("U1", "P1", 3)
    first.close()
    assert SqlStore(url).carts.get("U1") == {"P1": 3}


def test_deleting_a_shopper_empties_their_cart(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    store.carts.add("U1", "P1")
    store.events.delete_user("U1")  # in the same transaction as the events
    assert store.carts.get("U1") == {}


def test_a_reused_event_id_is_a_conflict_not_a_duplicate(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(1), event(2)])
    with store.events.writer() as writer:
        batch = [event(1), event(2, item="P9"), event(3), event(3, user="U2")]
        assert writer.append(batch) == 1
        assert writer.conflicts(batch) == [1, 3]  # same content is a duplicate, not a conflict


def test_changed_since_follows_upserts_in_order(store: SqlStore | InMemoryStore) -> None:
    store.catalog.upsert([product(1), product(2)])
    changed, mark = store.catalog.changed_since(0)
    assert sorted(p.id for p in changed) == ["P1", "P2"] and mark > 0
    assert store.catalog.changed_since(mark) == ([], mark)
    store.catalog.upsert([product(2, title="Renamed")])
    changed, later = store.catalog.changed_since(mark)
    assert [(p.id, p.title) for p in changed] == [("P2", "Renamed")] and later > mark


def test_store_errors_carry_no_sql_and_no_values(tmp_path: Path) -> None:
    """Regression (issue 12): a failed write's message (shown in a 503 body and by the CLI)
    held the SQL statement and the request's own values."""

    from shopsense.errors import StoreError
    from shopsense.store.sql_schema import transaction

    store = SqlStore(f"sqlite:///{tmp_path / 'shop.db'}")
    insert = (
        "INSERT INTO carts (user_id, item_id, quantity, added) VALUES ('secret-u', 'p', NULL, 1)"
    )
    with pytest.raises(StoreError) as caught, transaction(store.engine) as conn:
        conn.execute(sa.text(insert))
    message = str(caught.value)
    assert "NOT NULL constraint failed" in message
    assert "INSERT" not in message and "secret-u" not in message


def test_a_deleted_shopper_leaves_a_salted_tombstone(store: SqlStore | InMemoryStore) -> None:
    store.events.append([event(1, user="U7"), event(2, user="U8")])
    assert store.events.forgotten() == frozenset()
    store.events.delete_user("U7")
    digest = store.events.digest("U7")
    assert store.events.forgotten() == {digest}
    assert "U7" not in digest and digest != store.events.digest("U8")
    store.events.delete_user("U7")  # twice: one tombstone
    assert len(store.events.forgotten()) == 1


def test_tombstones_and_their_salt_outlive_the_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    first = SqlStore(url)
    first.events.append([event(1, user="U7")])
    first.events.delete_user("U7")
    digest = first.events.digest("U7")
    first.close()
    again = SqlStore(url)
    assert again.events.digest("U7") == digest and digest in again.events.forgotten()
    # secure_delete + checkpoint: the raw id is in no file of the store any more
    for path in tmp_path.iterdir():
        assert b"U7" not in path.read_bytes(), path.name


def test_reports_count_per_day_kind_list_and_shopper(store: SqlStore | InMemoryStore) -> None:
    """The aggregates the dashboard and A/B reports read (the API reaches no table itself)."""
    store.events.append([
        event(1, user="U1", kind="impression", request_id="R1"),
        event(2, user="U1", kind="click", request_id="R1"),
        event(3, user="U1", kind="purchase", price=5.0, quantity=2),
        event(4, user="U2", kind="view", timestamp=T0.replace(day=T0.day + 1)),
    ])  # fmt: skip
    days = store.events.counts_by_day()
    assert [sum(c.values()) for c in days.values()] == [3, 1]
    assert list(days) == sorted(days)
    assert days[min(days)][EventKind.PURCHASE] == 1
    attributed = store.events.attributed_counts()
    assert (attributed[EventKind.IMPRESSION], attributed[EventKind.CLICK]) == (1, 1)
    totals = store.events.outcomes_by_user()
    assert (totals["U1"].impressions, totals["U1"].clicks, totals["U1"].purchases) == (1, 1, 1)
    assert totals["U1"].revenue == 10.0 and totals["U2"].purchases == 0
    wanted = store.events.user_history("U1", kinds=[EventKind.CLICK, EventKind.PURCHASE])
    assert [e.kind for e in wanted] == [EventKind.CLICK, EventKind.PURCHASE]


def test_staged_writes_count_new_and_stored_events(store: SqlStore | InMemoryStore) -> None:
    """Regression: on PostgreSQL the staged move counted 0 new events (no row count)."""
    store.events.append([event(1)])
    with store.events.staged() as staged:
        staged.add([(1, event(1)), (2, event(2)), (3, event(3)), (4, event(3, item="P9"))])
        assert staged.conflicts() == [(4, "E3")]
        staged.drop([4])
        assert staged.commit() == 2
    assert store.events.count() == 3


def test_a_deletion_on_postgresql_vacuums_the_rows_away(
    store: SqlStore | InMemoryStore,
) -> None:
    """Issue 12: PostgreSQL keeps deleted rows as dead tuples until a VACUUM; a deletion
    runs one on the tables it touched (SQLite overwrites them: ``secure_delete``)."""
    if not isinstance(store, SqlStore) or store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(str(args[2])))
    store.events.append([event(1, user="U7"), event(2, user="U8")])
    store.events.delete_user("U7")
    assert any(s.startswith("VACUUM") and "events" in s for s in seen), seen
    with store.engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM events WHERE user_id = 'U7'").scalar_one()
    assert left == 0
