"""The SQLite store's migrations and the outbox's delivery with back-off, never losing a mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, select

from bot.adapters import sql_schema as t
from bot.adapters.sql_store import SqlStore
from bot.config import load_config
from bot.delivery import OutboxDelivery
from bot.domain.model import OutgoingEmail
from bot.errors import PermanentError, TransientError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_migrations_create_every_table_once(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    assert store.migrate(NOW) == t.MIGRATIONS[-1][0]
    assert store.migrate(NOW) == t.MIGRATIONS[-1][0]
    with store.connection() as conn:
        tables = set(inspect(conn).get_table_names())
        versions = conn.execute(select(t.schema_version.c.version)).scalars().all()
    assert {"messages", "cases", "bookings", "calendar_events", "outbox", "history", "timers"} <= tables
    assert versions == [n for n, _ in t.MIGRATIONS]
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
