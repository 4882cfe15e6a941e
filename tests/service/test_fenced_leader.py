"""A leader whose lease was taken stops at its next write: no message quarantined, no timer failed, no alert.

Every transaction of the leader is fenced (bot/adapters/sql_lease.py ``fence``). The service's own
"one bad message / timer must not stop the others" handling must let the refusal through: the work
belongs to the new leader, not to the quarantine or to the admin's inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from bot.adapters import sql_schema as t
from bot.adapters.sql_lease import LeaseLost, SqlLease, fence
from bot.ports import IncomingMail
from bot.wiring import Bot
from tests.support.requests_mail import london, request_email

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR = 3600.0


@contextmanager
def lease_taken(bot: Bot) -> Iterator[None]:
    """``bot`` as a leader fenced at epoch 1, whose lease another instance (vm-b) has since taken."""
    lease_engine = create_engine(bot.store.engine.url)  # the lease's own reads and writes are never fenced
    ours = SqlLease(lease_engine, "vm-a:101:aa", 0.0)  # lapses at once, so vm-b can take it
    epoch = ours.try_acquire()
    assert epoch == 1
    lift = fence(bot.store.engine, ours, epoch)
    try:
        assert SqlLease(lease_engine, "vm-b:202:bb", HOUR).try_acquire() == 2
        yield
    finally:
        lift()
        lease_engine.dispose()


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_request_read_after_the_lease_was_taken_is_left_for_the_new_leader(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    sent = london("2026-11-23 09:00")
    mail = IncomingMail(key="1", raw=request_email(sent, message_id="<fenced-1@council.example>"), received_at=sent)
    taken = r"held by vm-b \(PID 202\) at epoch 2"
    with lease_taken(bot), caplog.at_level(logging.INFO), pytest.raises(LeaseLost, match=taken):
        bot.service.handle(mail, sent)
    assert _errors(caplog) == []
    with bot.store.engine.connect() as conn:
        assert conn.execute(select(t.messages.c.message_id)).all() == []
        assert conn.execute(select(t.outbox.c.purpose)).all() == []  # no quarantine notice, no admin alert


def test_a_timer_due_after_the_lease_was_taken_stays_pending_without_an_alert(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    with bot.store.transaction() as tx:
        tx.add_timer("callback:SD000001", None, "daily_agenda", NOW - timedelta(minutes=1))
        (timer,) = tx.due_timers(NOW)
    with lease_taken(bot), caplog.at_level(logging.INFO), pytest.raises(LeaseLost, match="epoch 2"):
        bot.service.handle_due(timer.id, NOW)
    assert _errors(caplog) == []
    with bot.store.transaction() as tx:  # the fence lifted: as the new leader would read it
        assert [(d.id, d.status) for d in tx.due_timers(NOW)] == [(timer.id, "pending")]
        assert tx.pending_email_count() == 0  # no alert that the timer failed
