"""Fast, announced recovery and a small, said at-least-once window (issue 19 items 6 and 7), on a real aiosmtpd.

A mail server that does not take mail is an outage: recorded in the store, shown by `status`,
`health` and `metrics` while it lasts, told to the administrator when it ends if it was long;
the back-off is capped at a minute and the first email the server takes makes every waiting
one due at once, urgent purposes first. An email is "sending" while the server has it.
"""

from __future__ import annotations

import email
import email.policy
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from bot.adapters import sql_schema as t
from bot.config import Config, SmtpConfig
from bot.delivery import OutboxDelivery
from bot.health import Probe, State, check_sender
from bot.metrics import render_metrics
from bot.ports import IncomingMail
from bot.status import render_status
from bot.wiring import Bot, build
from tests.support.mail_servers import HOST, RecordingHandler, SmtpServer
from tests.support.ports import Ports
from tests.support.requests_mail import london, plain_text, queued_emails, request_email

T0 = london("2026-11-23 09:00")


def routine(n: int, at: datetime) -> IncomingMail:
    raw = request_email(at, subject=f"Strategy discussion N14678{n}", n_number=f"N14678{n}", message_id=f"<r{n}@x>")
    return IncomingMail(f"routine{n}", raw, at)


def urgent(at: datetime) -> IncomingMail:
    raw = request_email(at, subject="URGENT S47 ENQUIRY N311907", n_number="N311907", message_id="<urgent@x>")
    return IncomingMail("urgent", raw, at)


def smtp_bot(config: Config, port: int) -> Bot:
    smtp = SmtpConfig(HOST, port, "none", None, None, 5.0)
    return build(replace(config, sender=replace(config.sender, kind="smtp", smtp=smtp)))


def purpose_of(raw: bytes) -> str:
    """The purpose is the Message-ID's second part: <SD000001.confirmation.1@police.example>."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return str(msg["Message-ID"]).strip("<>").split(".")[1]


def outbox_rows(bot: Bot) -> list[Any]:
    with bot.store.connection() as conn:  # type: ignore[attr-defined]
        return list(conn.execute(select(t.outbox).order_by(t.outbox.c.id)))


def figure(metrics: str, name: str) -> float:
    """A metric's value as a scraper reads it from the text format."""
    [value] = [line.split()[1] for line in metrics.splitlines() if line.split()[0] == name]
    return float(value)


def delivery(bot: Bot) -> OutboxDelivery:
    assert bot.delivery is not None
    return bot.delivery


def test_an_outage_is_shown_while_it_lasts_and_told_when_it_ends_with_the_urgent_mail_first(
    config: Config, ports: Ports, start_server: Callable[..., SmtpServer]
) -> None:
    down = smtp_bot(config, ports.take())  # nothing listens there: connection refused
    try:
        down.service.handle(routine(2, T0), T0)
        down.service.handle(urgent(T0), T0)
        queued = len(outbox_rows(down))
        first = delivery(down).deliver_due(T0)
        # One refused connection holds the whole round back: no email tries (and times out) alone.
        assert (first.sent, first.retrying) == (0, queued)
        for minutes in (1, 3, 6, 12):
            assert delivery(down).deliver_due(T0 + timedelta(minutes=minutes)).sent == 0
        last_try = T0 + timedelta(minutes=12)
        # The back-off is capped: nothing waits more than a minute after the last try.
        waits = {datetime.fromisoformat(row.next_attempt_at) - last_try for row in outbox_rows(down)}
        assert waits == {timedelta(seconds=60)}
        status = render_status(down, last_try)
        metrics = render_metrics(down, last_try)
        finding = check_sender(Probe(config, down.store, last_try))
    finally:
        down.close()
    assert "Mail server (smtp): NOT TAKING MAIL since Mon 23 Nov 2026 09:00 (cannot reach 127.0.0.1:" in status
    assert figure(metrics, "strategy_bot_sender_up") == 0
    assert figure(metrics, "strategy_bot_sender_down_since_timestamp_seconds") == T0.timestamp()
    assert finding.state is State.DOWN and "NOT TAKING MAIL since Mon 23 Nov 2026 09:00" in finding.detail

    # The server is back (another process on the same database: the outage is read from the store).
    server = start_server()
    up = smtp_bot(config, server.port)
    back = T0 + timedelta(minutes=13)
    try:
        done = delivery(up).deliver_due(back)
        status = render_status(up, back)
        metrics = render_metrics(up, back)
        finding = check_sender(Probe(config, up.store, back))
        alerts = [m for m in queued_emails(up) if "did not take" in str(m["Subject"])]
    finally:
        up.close()
    assert done.sent == queued + 1  # every waiting email, and the administrator's alert with them
    purposes = [purpose_of(r.content) for r in server.handler.received]
    assert purposes[:2] == ["urgent_acknowledgement", "duty_referral"]  # queued after the confirmation
    assert purposes.index("confirmation") > purposes.index("duty_referral")
    [alert] = alerts
    assert str(alert["Subject"]) == "The mail server did not take the bot's email for 13 minutes"
    text = plain_text(alert)
    assert "Mon 23 Nov 2026 09:00" in text and "Mon 23 Nov 2026 09:13" in text and "cannot reach" in text
    assert "NOT TAKING MAIL" not in status
    assert figure(metrics, "strategy_bot_sender_up") == 1
    assert finding.state is State.OK


def test_a_short_outage_is_not_alerted_and_the_first_email_taken_releases_every_waiting_one(
    config: Config, start_server: Callable[..., SmtpServer]
) -> None:
    server = start_server()
    server.handler.data_reply = "451 4.3.0 try again later"  # the server answers, and takes nothing
    bot = smtp_bot(config, server.port)
    try:
        bot.service.handle(routine(2, T0), T0)
        waiting = len(outbox_rows(bot))
        for seconds in (0, 30, 90):
            assert delivery(bot).deliver_due(T0 + timedelta(seconds=seconds)).retrying == waiting
        assert "NOT TAKING MAIL since Mon 23 Nov 2026 09:00 (message refused by" in render_status(bot, T0)
        held = min(datetime.fromisoformat(row.next_attempt_at) for row in outbox_rows(bot))
        server.handler.data_reply = None
        later = T0 + timedelta(seconds=100)
        assert held > later  # the emails of the first request wait out their back-off ...
        bot.service.handle(routine(3, later), later)
        done = delivery(bot).deliver_due(later)
        rows = outbox_rows(bot)
    finally:
        bot.close()
    # ... until a new email goes: then they all go, in the same call.
    assert done.sent == len(rows)
    assert {row.status for row in rows} == {"sent"}
    assert not [m for m in queued_emails(bot) if "did not take" in str(m["Subject"])]  # under 10 minutes


@dataclass
class PeekingHandler(RecordingHandler):
    """Reads the outbox row of each email as the server receives its DATA."""

    database: Path | None = None
    seen: list[str] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        msg = email.message_from_bytes(content, policy=email.policy.default)
        db = sqlite3.connect(self.database)  # type: ignore[arg-type]
        try:
            [(status,)] = db.execute("SELECT status FROM outbox WHERE message_id = ?", (str(msg["Message-ID"]),))
        finally:
            db.close()
        assert self.seen is not None
        self.seen.append(status)
        return await super().handle_DATA(server, session, envelope)


def test_an_email_is_sending_while_the_server_has_it_and_one_left_sending_goes_again_with_its_message_id(
    config: Config, tmp_path: Path, start_server: Callable[..., SmtpServer], caplog: pytest.LogCaptureFixture
) -> None:
    database = Path(config.store.url.removeprefix("sqlite:///"))
    server = start_server()
    handler = PeekingHandler(database=database, seen=[])
    server.controller.handler = handler
    server.handler = handler
    bot = smtp_bot(config, server.port)
    try:
        bot.service.handle(routine(2, T0), T0)
        first = outbox_rows(bot)[0]
        delivery(bot).deliver_due(T0)
        assert handler.seen == ["sending"] * len(outbox_rows(bot))
        assert {row.status for row in outbox_rows(bot)} == {"sent"}
        # A process killed after handing the email over, before the server's 250 was recorded:
        with bot.store.connection() as conn:  # type: ignore[attr-defined]
            conn.execute(update(t.outbox).where(t.outbox.c.id == first.id).values(status="sending"))
        assert "Emails waiting to be delivered: 1" in render_status(bot, T0)
        with caplog.at_level(logging.WARNING, logger="bot.delivery"):
            again = delivery(bot).deliver_due(T0 + timedelta(seconds=5))
    finally:
        bot.close()
    assert again.sent == 1
    ids = [
        str(email.message_from_bytes(r.content, policy=email.policy.default)["Message-ID"])
        for r in server.handler.received
    ]
    assert ids.count(first.message_id) == 2  # the duplicate carries the same Message-ID
    assert f"email {first.message_id} (confirmation) was being sent when the bot stopped" in caplog.text


def test_while_the_server_is_down_it_is_probed_every_10_seconds_and_its_return_frees_the_waiting_mail(
    config: Config, ports: Ports
) -> None:
    port = ports.take()
    bot = smtp_bot(config, port)  # nothing listens on the port yet: connection refused
    handler = RecordingHandler()
    controller = Controller(handler, hostname=HOST, port=port, ready_timeout=120.0)
    try:
        bot.service.handle(urgent(T0), T0)
        waiting = len(outbox_rows(bot))
        assert delivery(bot).deliver_due(T0).retrying == waiting
        retry_at = min(datetime.fromisoformat(row.next_attempt_at) for row in outbox_rows(bot))
        assert retry_at == T0 + timedelta(seconds=30)
        assert delivery(bot).deliver_due(T0 + timedelta(seconds=5)).sent == 0  # probed: still refused
        controller.start()  # the server is back
        assert delivery(bot).deliver_due(T0 + timedelta(seconds=10)).sent == 0  # 5 s since the last probe
        back = delivery(bot).deliver_due(T0 + timedelta(seconds=15))  # probed: it answers
    finally:
        bot.close()
        if controller._thread is not None:
            controller.stop()
    assert back.sent == waiting  # 15 s after the outage began, not at the 30 s retry
    assert [purpose_of(r.content) for r in handler.received] == ["urgent_acknowledgement", "duty_referral"]
