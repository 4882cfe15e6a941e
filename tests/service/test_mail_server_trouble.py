"""Mail servers misbehaving: a 5xx reaches the administrator, the send rate is kept, a silent inbox is reported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config, ImapConfig, SmtpConfig
from bot.daemon import Daemon
from bot.ports import IncomingMail
from bot.status import render_status
from bot.wiring import Bot, build
from tests.support.dovecot import IMAP_USER, start_dovecot
from tests.support.mail_servers import HOST, PASSWORD, Certificate, SmtpServer
from tests.support.requests_mail import StepClock, london, plain_text, queued_emails, request_email

T0 = london("2026-11-23 09:00")
TEAM_MANAGER = "alex.morgan@council.example"


def incoming(n: int, at: datetime) -> IncomingMail:
    raw = request_email(at, subject=f"Strategy discussion N14678{n}", n_number=f"N14678{n}", message_id=f"<r{n}@x>")
    return IncomingMail(f"key{n}", raw, at)


@pytest.fixture
def smtp_bot(config: Config, start_server: Callable[..., SmtpServer]) -> Iterator[tuple[Bot, SmtpServer]]:
    server = start_server()
    smtp = SmtpConfig(HOST, server.port, "none", None, None, 5.0)
    built = build(replace(config, sender=replace(config.sender, kind="smtp", smtp=smtp, rate_per_minute=2)))
    yield built, server
    built.close()


def test_a_permanent_refusal_is_not_retried_and_the_administrator_is_told(
    smtp_bot: tuple[Bot, SmtpServer], config: Config
) -> None:
    bot, server = smtp_bot
    server.handler.refuse[TEAM_MANAGER] = "550 5.1.1 <alex.morgan@council.example>: mailbox unknown"
    bot.service.handle(incoming(2, T0), T0)
    assert bot.delivery is not None
    assert bot.delivery.deliver_due(T0).failed == 1
    assert bot.delivery.deliver_due(T0 + timedelta(minutes=5)).sent == 1  # the alert, not the refused mail again

    [alert] = [r for r in server.handler.received if config.people.administrator in r.rcpt_tos]
    [parsed] = [m for m in queued_emails(bot) if "refused" in str(m["Subject"])]
    assert str(parsed["Subject"]) == "An email from the bot was refused by the mail server: confirmation"
    text = plain_text(parsed)
    assert "SD000001" in text and "<SD000001.confirmation.1@police.example>" in text
    assert "550 5.1.1" in text and "It will not be retried" in text
    assert b"Subject: An email from the bot was refused" in alert.content
    assert all(TEAM_MANAGER not in r.rcpt_tos for r in server.handler.received)


def test_no_more_than_the_configured_rate_is_sent_in_any_minute(smtp_bot: tuple[Bot, SmtpServer]) -> None:
    bot, server = smtp_bot
    for n in (2, 3, 4):
        bot.service.handle(incoming(n, T0), T0)
    queued = len(queued_emails(bot))
    assert queued >= 3
    assert bot.delivery is not None
    assert bot.delivery.deliver_due(T0).sent == 2
    assert bot.delivery.deliver_due(T0 + timedelta(seconds=59)).sent == 0
    assert bot.delivery.deliver_due(T0 + timedelta(seconds=60)).sent == min(2, queued - 2)
    assert len(server.handler.received) == min(4, queued)


def test_a_silent_inbox_alerts_the_administrator_once_and_its_return_too(
    config: Config, tmp_path: Path, certs: dict[str, Certificate], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_dovecot(tmp_path / "dovecot", certs["server"])
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    imap = ImapConfig(
        HOST, server.imaps_port, "tls", IMAP_USER, "password", "TEST_IMAP_PASSWORD", None, server.cert.cert,
        5.0, True, 1740.0, 0.001, 0.001,
    )  # fmt: skip
    bot = build(replace(config, inbox=replace(config.inbox, kind="imap", imap=imap)))
    clock = StepClock(T0)
    daemon = Daemon(bot, clock)
    try:
        daemon.round()
        server.stop()
        for minutes in (1, 10, 16, 17, 30):
            clock.at = T0 + timedelta(minutes=minutes)
            daemon.round()
        assert "Inbox (imap): NOT ANSWERING (" in render_status(bot, clock.at)
        server.start()
        clock.at = T0 + timedelta(minutes=31)
        daemon.round()
        clock.at = T0 + timedelta(minutes=32)
        daemon.round()
        status = render_status(bot, clock.at)
    finally:
        bot.close()
        server.stop()

    alerts = [m for m in queued_emails(bot) if config.people.administrator in str(m["To"])]
    assert [str(m["Subject"]) for m in alerts] == [
        "The referral inbox has not answered for 15 minutes",
        "The referral inbox answers again",
    ]
    assert "Mon 23 Nov 2026 09:00" in plain_text(alerts[0])  # the last answer, London time
    assert f"{HOST}:{server.imaps_port}" in plain_text(alerts[0])
    assert "Inbox (imap): answering since Mon 23 Nov 2026 09:31" in status
