"""The Store port on SQLite: migrations, timers, and the outbox's delivery with back-off, never losing a mail."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from bot.adapters import sql_migrations as migrations
from bot.adapters import sql_schema as t
from bot.adapters.sql_store import SqlStore
from bot.config import load_config
from bot.delivery import OutboxDelivery
from bot.domain.model import OutgoingEmail
from bot.errors import PermanentError, TransientError
from bot.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEGACY_V4 = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_store_v4.sql"


def test_migrations_create_every_table_once(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    assert store.migrate(NOW) == migrations.head()
    assert store.migrate(NOW) == migrations.head()
    with store.connection() as conn:
        tables = set(inspect(conn).get_table_names())
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert {"messages", "cases", "bookings", "calendar_events", "outbox", "history", "timers"} <= tables
    assert "schema_version" not in tables
    assert versions == [migrations.head()]
    store.dispose()


class FlakySender:
    """A real MailSender: refuses with the given errors, then accepts; records what it accepted."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.accepted: list[tuple[str, tuple[str, ...]]] = []

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.accepted.append((message_id, tuple(recipients)))


def queue(store: SqlStore, message_id: str) -> None:
    mail = OutgoingEmail(
        "confirmation", ("tm@council.example",), ("unit@police.example",), "s", "t", "h", message_id, case_id="SD000001"
    )
    with store.transaction() as tx:
        tx.queue_email(mail, b"raw", NOW)


def test_transient_failures_back_off_and_the_mail_is_delivered_once(tmp_path: Path) -> None:
    config = load_config(None, base=tmp_path)
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.migrate(NOW)
    queue(store, "<m1@police.example>")
    sender = FlakySender([TransientError("451 try later"), TransientError("connection refused")])
    delivery = OutboxDelivery(store, sender, "referrals@police.example", config.sender)

    assert delivery.deliver_due(NOW).retrying == 1
    # Not due again before the first back-off (30 s) has passed.
    assert delivery.deliver_due(NOW + timedelta(seconds=29)).retrying == 0
    assert delivery.deliver_due(NOW + timedelta(seconds=30)).retrying == 1
    # The second wait is doubled: 60 s after the second attempt.
    assert delivery.deliver_due(NOW + timedelta(seconds=89)).sent == 0
    assert delivery.deliver_due(NOW + timedelta(seconds=90)).sent == 1
    assert delivery.deliver_due(NOW + timedelta(hours=1)).sent == 0
    assert sender.accepted == [("<m1@police.example>", ("tm@council.example", "unit@police.example"))]
    with store.connection() as conn:
        [row] = conn.execute(select(t.outbox)).all()
    assert row.status == "sent" and row.attempts == 3
    store.dispose()


def test_a_permanent_failure_is_recorded_not_retried(tmp_path: Path) -> None:
    config = load_config(None, base=tmp_path)
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.migrate(NOW)
    queue(store, "<m2@police.example>")
    sender = FlakySender([PermanentError("550 5.1.1 user unknown")])
    delivery = OutboxDelivery(store, sender, "referrals@police.example", config.sender)
    assert delivery.deliver_due(NOW).failed == 1
    assert delivery.deliver_due(NOW + timedelta(days=1)).sent == 0
    with store.transaction() as tx:
        [entry] = [h for h in tx.history("SD000001") if h.action == "email_failed"]
    assert "550" in entry.detail
    store.dispose()


# -- timers: keyed by what they are, scoped to what they belong to ------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    made.migrate(NOW)
    yield made
    made.dispose()


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def listed(store: Store, case_id: str) -> list[tuple[str, str, str, datetime]]:
    with store.transaction() as tx:
        return [(timer.purpose, timer.scope, timer.status, timer.due_at) for timer in tx.timers_for(case_id)]


def test_a_timer_key_is_taken_once_whatever_became_of_its_timer(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.add_timer("SD000001:reminder_30_min:b1", "SD000001", "reminder_30_min", at(2), scope="b1")
        assert not tx.add_timer("SD000001:reminder_30_min:b1", "SD000001", "reminder_30_min", at(3), scope="b1")
        assert tx.cancel_timers("SD000001") == 1
        # A cancelled timer still holds its key: the caller must name a moved booking's timers anew.
        assert not tx.add_timer("SD000001:reminder_30_min:b1", "SD000001", "reminder_30_min", at(2), scope="b1")
        assert tx.add_timer("SD000001:reminder_30_min:b2", "SD000001", "reminder_30_min", at(2), scope="b2")
    assert listed(store, "SD000001") == [
        ("reminder_30_min", "b1", "cancelled", at(2)),
        ("reminder_30_min", "b2", "pending", at(2)),
    ]


def test_cancelling_one_scope_leaves_the_other_scopes_and_the_other_cases(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_timer("a:reminder", "SD000001", "reminder_30_min", at(1), scope="booking:b2")
        tx.add_timer("a:template", "SD000001", "minutes_template", at(2), scope="booking:b2")
        tx.add_timer("a:chase", "SD000001", "minutes_overdue", at(3), scope="held")
        tx.add_timer("a:s47", "SD000001", "s47_outcome_due", at(4))
        tx.add_timer("b:reminder", "SD000002", "reminder_30_min", at(1), scope="booking:b2")

        assert tx.cancel_timers("SD000001", scope="booking:b2") == 2
        # Purposes and scope both narrow: the held discussion's chase is not the booking's.
        assert tx.cancel_timers("SD000001", ("minutes_overdue",), scope="booking:b2") == 0
        assert tx.cancel_timers("SD000001", ("minutes_overdue",), scope="") == 0
        assert tx.cancel_timers("SD000001", ("s47_outcome_due",), scope="") == 1
    assert listed(store, "SD000001") == [
        ("reminder_30_min", "booking:b2", "cancelled", at(1)),
        ("minutes_template", "booking:b2", "cancelled", at(2)),
        ("minutes_overdue", "held", "pending", at(3)),
        ("s47_outcome_due", "", "cancelled", at(4)),
    ]
    assert listed(store, "SD000002") == [("reminder_30_min", "booking:b2", "pending", at(1))]
    with store.transaction() as tx:
        # Without a scope, as before: every pending timer of the case.
        assert tx.cancel_timers("SD000001") == 1
        assert [timer.case_id for timer in tx.pending_timers()] == ["SD000002"]


def test_a_case_s_timers_are_listed_whatever_their_status_by_due_time(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_timer("k3", "SD000001", "minutes_overdue", at(30), "chase", scope="held")
        tx.add_timer("k1", "SD000001", "escalation_60", at(1))
        tx.add_timer("k2", "SD000001", "escalation_90", at(1.5))
        tx.add_timer("agenda", None, "daily_agenda", at(0.5))
        first, second, third = tx.timers_for("SD000001")
        tx.mark_timer_fired(first.id, at(1.25), late=True)
        tx.fail_timer(second.id, at(1.5), "template missing")
    with store.transaction() as tx:
        timers = tx.timers_for("SD000001")
    assert [(t.key, t.status, t.late, t.detail, t.scope) for t in timers] == [
        ("k1", "fired", True, "", ""),
        ("k2", "failed", False, "template missing", ""),
        ("k3", "pending", False, "chase", "held"),
    ]
    assert [t.due_at for t in timers] == [at(1), at(1.5), at(30)]
    with store.transaction() as tx:
        assert tx.timers_for("SD000009") == []


def test_an_old_database_gains_timer_scopes_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    # The database as schema version 3 left it (before Alembic): no scope on the timers, one timer pending.
    db = sqlite3.connect(path)
    db.executescript(LEGACY_V4.read_text())
    db.execute("ALTER TABLE timers DROP COLUMN scope")
    db.execute("DELETE FROM schema_version WHERE version >= 4")
    db.execute(
        "INSERT INTO timers (key, case_id, purpose, due_at, detail, status, fired_at, late) "
        "VALUES ('SD000001:reminder_30_min:old', 'SD000001', 'reminder_30_min', ?, '', 'pending', NULL, 0)",
        (at(2).isoformat(),),
    )
    db.commit()
    db.close()

    store = SqlStore(f"sqlite:///{path}")
    assert store.migrate(NOW) == migrations.head()
    assert listed(store, "SD000001") == [("reminder_30_min", "", "pending", at(2))]
    with store.transaction() as tx:
        assert tx.add_timer("SD000001:reminder_30_min:new", "SD000001", "reminder_30_min", at(3), scope="b2")
        assert tx.cancel_timers("SD000001", scope="") == 1
    assert listed(store, "SD000001") == [
        ("reminder_30_min", "", "cancelled", at(2)),
        ("reminder_30_min", "b2", "pending", at(3)),
    ]
    store.dispose()
