"""The store's batch without a savepoint per unit, and its history written per batch (issue 18), on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text

from bot.adapters.sql_lease import LeaseLost
from bot.adapters.sql_store import SqlStore
from bot.errors import StorageError
from bot.ports.batching import BatchSpoiled, HeldTimers
from tests.support.stores import ENGINES, new_store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    yield from new_store(request, tmp_path)


def statements(store: SqlStore) -> list[str]:
    """Every SQL statement the store's engine runs from now on (its first word and table), in order."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        seen.append(" ".join(sql.split()[:3]))

    event.listen(store.engine, "before_cursor_execute", note)
    return seen


def test_a_batch_runs_no_savepoint_and_writes_its_history_in_one_statement(store: SqlStore) -> None:
    seen = statements(store)
    with store.batch():
        for n in range(1, 4):
            with store.transaction() as tx:
                tx.add_history(f"SD00000{n}", NOW + timedelta(minutes=n), "bot", "received", f"message {n}")
                tx.add_history(f"SD00000{n}", NOW + timedelta(minutes=n), "bot", "booked")
    assert not [s for s in seen if "SAVEPOINT" in s.upper()]
    assert [s for s in seen if s.upper().startswith("INSERT")] == ["INSERT INTO history"]
    with store.transaction() as tx:
        got = [(h.case_id, h.action, h.detail, h.at) for n in range(1, 4) for h in tx.history(f"SD00000{n}")]
    assert got == [
        (f"SD00000{n}", action, detail, NOW + timedelta(minutes=n))
        for n in range(1, 4)
        for action, detail in (("received", f"message {n}"), ("booked", ""))
    ]


def test_history_held_in_a_batch_is_read_back_by_the_next_unit_in_order(store: SqlStore) -> None:
    with store.batch():
        with store.transaction() as tx:
            tx.add_history("SD000001", NOW, "bot", "received")
        with store.transaction() as tx:
            assert [h.action for h in tx.history("SD000001")] == ["received"]
            tx.add_history("SD000001", NOW, "bot", "booked")
            tx.add_history(None, NOW, "bot", "admin_alerted")
            assert [h.action for h in tx.history("SD000001")] == ["received", "booked"]
            assert [h.action for h in tx.history(None)] == ["admin_alerted"]  # type: ignore[arg-type]
            assert ("events", ("booked",), 1) in tx.tallies()
            tx.add_history("SD000001", NOW, "bot", "email_queued")
    with store.connection() as conn:
        rows = conn.execute(text("SELECT case_id, action FROM history ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        ("SD000001", "received"),
        ("SD000001", "booked"),
        (None, "admin_alerted"),
        ("SD000001", "email_queued"),
    ]


def test_history_written_outside_a_batch_is_there_when_the_unit_commits(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_history("SD000001", NOW, "bot", "received")
    with store.connection() as conn:  # another connection: only what was committed
        assert conn.execute(text("SELECT action FROM history")).scalars().all() == ["received"]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.add_history("SD000001", NOW, "bot", "rolled back")
        raise RuntimeError("the unit failed")
    with store.transaction() as tx:
        assert [h.action for h in tx.history("SD000001")] == ["received"]


def test_a_batch_whose_caller_let_a_failed_unit_pass_still_rolls_back(store: SqlStore) -> None:
    with pytest.raises(BatchSpoiled), store.batch():
        with store.transaction() as tx:
            tx.add_history("SD000001", NOW, "bot", "received")
        try:
            with store.transaction() as tx:
                tx.add_history("SD000002", NOW, "bot", "received")
                raise ValueError("a bad message")
        except BatchSpoiled:
            pass  # a caller that goes on as if it were a savepoint: the batch still does not commit
    with store.transaction() as tx:
        assert tx.history("SD000001") == [] and tx.history("SD000002") == []


@pytest.mark.parametrize("error", [StorageError("the disk is full"), LeaseLost("another instance holds the lease")])
def test_a_storage_fault_or_a_lost_lease_in_a_batch_comes_out_as_itself(store: SqlStore, error: Exception) -> None:
    with pytest.raises(type(error)), store.batch(), store.transaction() as tx:
        tx.add_history("SD000001", NOW, "bot", "received")
        raise error
    with store.transaction() as tx:
        assert tx.history("SD000001") == []


def test_a_unit_that_failed_after_reading_only_leaves_its_batch_to_commit_on_sqlite(store: SqlStore) -> None:
    """Nothing to undo (SQLite counts the rows changed): the unit's own error comes out, and the batch goes on.

    PostgreSQL has no such count: there the batch is spoiled, to be done again unit by unit.
    """
    on_sqlite = store.dialect == "sqlite"
    with pytest.raises(BatchSpoiled) if not on_sqlite else nullcontext(), store.batch():
        with store.transaction() as tx:
            tx.add_history("SD000001", NOW, "bot", "received")
        with pytest.raises(LookupError if on_sqlite else BatchSpoiled), store.transaction() as tx:
            assert [h.action for h in tx.history("SD000001")] == ["received"]  # writes the batch's held row
            assert tx.seen_message("<untrusted@evil.example>", "0" * 64) is None
            raise LookupError("quarantined after reading only")
        if on_sqlite:
            with store.transaction() as tx:
                tx.add_history("SD000002", NOW, "bot", "received")
    with store.transaction() as tx:
        kept = [h.action for c in ("SD000001", "SD000002") for h in tx.history(c)]
    assert kept == (["received", "received"] if on_sqlite else [])


def test_a_unit_that_changed_a_row_before_failing_spoils_the_batch_on_both_engines(store: SqlStore) -> None:
    with pytest.raises(BatchSpoiled), store.batch():
        with store.transaction() as tx:
            tx.add_history("SD000001", NOW, "bot", "received")
        with pytest.raises(BatchSpoiled), store.transaction() as tx:
            tx.history("SD000001")
            tx.cancel_timers("SD000001")  # an UPDATE that matches nothing changes no row...
            tx.add_timer("SD000001:reminder", "SD000001", "reminder_30_min", NOW)  # ...an INSERT does
            raise LookupError("failed after a write")
    with store.transaction() as tx:
        assert tx.history("SD000001") == [] and tx.timers_for("SD000001") == []


def test_held_timers_are_written_with_the_batch_in_one_statement_and_read_back_in_order(store: SqlStore) -> None:
    seen = statements(store)
    with store.batch():
        for n in range(1, 3):
            with store.transaction() as tx:
                assert isinstance(tx, HeldTimers)
                for hours, purpose in ((3, "minutes_overdue"), (1, "reminder_30_min"), (2, "minutes_template")):
                    tx.hold_timer(f"SD00000{n}:{purpose}", f"SD00000{n}", purpose, NOW + timedelta(hours=hours))
    assert [s for s in seen if s.upper().startswith("INSERT")] == ["INSERT INTO timers"]
    with store.transaction() as tx:
        got = [(t.case_id, t.purpose, t.due_at, t.status) for n in (1, 2) for t in tx.timers_for(f"SD00000{n}")]
        ids = [t.id for n in (1, 2) for t in tx.timers_for(f"SD00000{n}")]
    assert got == [
        (f"SD00000{n}", purpose, NOW + timedelta(hours=hours), "pending")
        for n in (1, 2)
        for hours, purpose in ((1, "reminder_30_min"), (2, "minutes_template"), (3, "minutes_overdue"))
    ]
    assert ids == [2, 3, 1, 5, 6, 4]  # written in the order held


def test_a_held_timer_is_there_for_every_reader_and_writer_of_the_same_transaction(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert isinstance(tx, HeldTimers)
        tx.hold_timer("SD000001:reminder", "SD000001", "reminder_30_min", NOW + timedelta(hours=1))
        assert not tx.add_timer("SD000001:reminder", "SD000001", "reminder_30_min", NOW)  # the held one holds the key
        tx.hold_timer("SD000001:chase", "SD000001", "minutes_overdue", NOW - timedelta(hours=1))
        assert [t.purpose for t in tx.due_timers(NOW)] == ["minutes_overdue"]
        tx.hold_timer("SD000001:template", "SD000001", "minutes_template", NOW + timedelta(hours=2))
        assert tx.cancel_timers("SD000001", ("minutes_template",)) == 1
        tx.hold_timer("SD000002:reminder", "SD000002", "reminder_30_min", NOW + timedelta(hours=3))
        assert tx.next_timer_due() == NOW - timedelta(hours=1)
        assert ("timers", ("reminder_30_min", "pending", "0"), 2) in tx.tallies()
        tx.hold_timer("SD000003:reminder", "SD000003", "reminder_30_min", NOW + timedelta(hours=4))
    with store.transaction() as tx:  # the last one written at the commit
        assert [(t.purpose, t.status) for t in tx.timers_for("SD000003")] == [("reminder_30_min", "pending")]
        assert [(t.purpose, t.status) for t in tx.timers_for("SD000001")] == [
            ("minutes_overdue", "pending"),
            ("reminder_30_min", "pending"),
            ("minutes_template", "cancelled"),
        ]


def test_held_timers_of_a_spoiled_batch_are_dropped_with_it(store: SqlStore) -> None:
    with pytest.raises(BatchSpoiled), store.batch():
        with store.transaction() as tx:
            assert isinstance(tx, HeldTimers)
            tx.hold_timer("SD000001:reminder", "SD000001", "reminder_30_min", NOW)
        with store.transaction() as tx:
            tx.add_history("SD000002", NOW, "bot", "received")
            raise ValueError("a bad message, after a write")
    with store.transaction() as tx:
        assert tx.timers_for("SD000001") == []


def test_reading_or_adding_timers_leaves_the_history_held_for_the_batch(store: SqlStore) -> None:
    seen = statements(store)
    with store.batch():
        for n in range(1, 4):
            with store.transaction() as tx:
                tx.add_history(f"SD00000{n}", NOW, "bot", "received")
                assert tx.add_timer(f"SD00000{n}:reminder", f"SD00000{n}", "reminder_30_min", NOW)
                assert [t.purpose for t in tx.timers_for(f"SD00000{n}")] == ["reminder_30_min"]
                tx.add_history(f"SD00000{n}", NOW, "bot", "booked")
    inserts = [s for s in seen if s.upper().startswith("INSERT")]
    assert inserts == ["INSERT INTO timers"] * 3 + ["INSERT INTO history"]
    with store.transaction() as tx:
        assert [h.action for n in range(1, 4) for h in tx.history(f"SD00000{n}")] == ["received", "booked"] * 3
