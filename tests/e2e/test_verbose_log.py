"""`strategy-bot run --verbose` on a real IMAP session (Dovecot) and SMTP server: the log carries no message.

imapclient logs every command and literal at DEBUG, the fetched message included; the bot caps
library loggers at WARNING whatever ``--verbose`` says (issue 19 item 3). The scan reads the
whole log of a session that fetched, handled and moved a request and sent its emails.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from tests.e2e.test_crash_real_servers import write_config
from tests.support.daemons import kill_if_running, start_logged, wait_for
from tests.support.dovecot import IMAP_PASSWORD_ENV, start_dovecot
from tests.support.mail_servers import PASSWORD, Certificate, SmtpServer
from tests.support.requests_mail import request_email

# Only so that a broken daemon fails the test instead of hanging the suite.
GIVE_UP_SECONDS = 180.0  # an overall bound only: a busy machine may be slow
# What the request says about the family and the concern: none of it may reach the log.
SURNAME, MANAGER, PHONE = "Achterberg", "Robin Quillfeather", "01632 960777"
REASON = "Bruises seen on allotment visit"
PERSONAL = (SURNAME, MANAGER, PHONE, REASON, "Bruises", "allotment", "Children's surname")


def test_a_verbose_log_of_a_real_imap_session_holds_no_personal_data(
    tmp_path: Path, certs: dict[str, Certificate], start_server: Callable[..., SmtpServer]
) -> None:
    server = start_dovecot(tmp_path / "dovecot", certs["server"])
    smtp = start_server()
    log_path = tmp_path / "daemon.log"
    try:
        config = write_config(tmp_path, server, smtp.port)  # retries within 1 s, a poll every 0.5 s
        assert main(["init", "--config", str(config)]) == 0
        raw = request_email(
            datetime.now(UTC),
            message_id="<verbose-1@council.example>",
            surname=SURNAME,
            manager=MANAGER,
            phone=PHONE,
            reason=REASON,
        )
        assert all(word.encode() in raw for word in (SURNAME, MANAGER, PHONE, REASON))  # the scan can find them
        server.deliver(raw)
        env = {**os.environ, IMAP_PASSWORD_ENV: PASSWORD}
        proc = start_logged(config, tmp_path, log_path, "--verbose", env=env, new_session=True)
        try:
            wait_for(lambda: server.message_ids("Processed") == ["<verbose-1@council.example>"], "Processed", proc=proc)
            wait_for(lambda: smtp.handler.received, "the confirmation sent", proc=proc)
            os.killpg(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=GIVE_UP_SECONDS) == 0
        finally:
            kill_if_running([proc], group=True)
    finally:
        server.stop()
    log = log_path.read_text(encoding="utf-8", errors="replace")
    lines = log.splitlines()
    assert any("message handled" in line for line in lines)  # the session really ran
    assert [line for line in lines if " imapclient" in line and (" DEBUG " in line or " INFO " in line)] == []
    assert [(line, word) for line in lines for word in PERSONAL if word in line] == []
