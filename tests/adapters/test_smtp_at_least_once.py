"""SMTP without needless duplicates (issue 19 item 7): an email is given again at once only if DATA was not sent.

A server that drops idle connections between sends is met with one fresh connection and the
same envelope (nothing of the email was given). A connection lost after DATA may be an email
the server has stored: the send fails (retried later, same Message-ID), it is not given again
on a new connection at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.adapters.smtp_sender import SmtpSender
from bot.config import SmtpConfig
from bot.errors import TransientError
from tests.support.mail_servers import HOST, RecordingHandler, SmtpServer

BOT = "referrals@police.example"
TEAM_MANAGER = "alex.morgan@council.example"


def email_bytes(n: int) -> bytes:
    return (
        f"From: {BOT}\r\nTo: {TEAM_MANAGER}\r\nSubject: Strategy discussion booked\r\n"
        f"Message-ID: <SD00000{n}.confirmation.1@police.example>\r\n\r\nBooked.\r\n"
    ).encode()


@dataclass
class StoresThenHangsUp(RecordingHandler):
    """Stores the email, then closes the connection instead of answering: a crash after the server's fsync."""

    hang_up: bool = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        reply = await super().handle_DATA(server, session, envelope)
        if self.hang_up:
            server.transport.close()
        return reply


def test_a_connection_lost_after_data_is_not_given_the_email_again_at_once(
    start_server: Callable[..., SmtpServer],
) -> None:
    server = start_server()
    handler = StoresThenHangsUp()
    server.controller.handler = handler
    sender = SmtpSender(SmtpConfig(HOST, server.port, "none", None, None, 5.0))
    try:
        with pytest.raises(TransientError, match="closed the connection"):
            sender.send("<SD000001.confirmation.1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])
        assert [r.content for r in handler.received] == [email_bytes(1)]  # once, not twice
        # The next send opens a new connection and goes through.
        handler.hang_up = False
        sender.send("<SD000002.confirmation.1@police.example>", email_bytes(2), BOT, [TEAM_MANAGER])
    finally:
        sender.close()
    assert [r.content for r in handler.received] == [email_bytes(1), email_bytes(2)]
