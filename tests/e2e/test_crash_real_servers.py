"""Exactly once through crashes: `strategy-bot run` on a real Dovecot and a real SMTP server, SIGKILLed at each step.

After the restart every request has exactly one case, one booking and one confirmation
delivered; the only resend allowed is in the window between the SMTP server's acceptance
and our record of it, and then with the same Message-ID. The INBOX ends empty.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.failpoints import ENV, STEPS
from tests.support.daemons import kill_if_running, start_logged, wait_for
from tests.support.dovecot import Dovecot, bot_config, start_dovecot
from tests.support.mail_servers import PASSWORD, Certificate, SmtpServer
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]
REQUESTS = ("N146782", "N146783", "N146784")


def write_config(folder: Path, server: Dovecot, smtp_port: int) -> Path:
    return bot_config(
        folder,
        server,
        smtp_port,
        imap={"retry_first_seconds": 0.1, "retry_max_seconds": 1},
        inbox={"poll_seconds": 0.5},
    )


def start(config: Path, cwd: Path, crash_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TEST_IMAP_PASSWORD": PASSWORD}
    env.pop(ENV, None)
    if crash_at:
        env[ENV] = crash_at
    return start_logged(config, cwd, cwd / "daemon.log", env=env, append=True)


def confirmations(server: SmtpServer) -> list[str]:
    ids = []
    for received in server.handler.received:
        msg = email.message_from_bytes(received.content, policy=email.policy.default)
        if ".confirmation." in str(msg["Message-ID"]):
            ids.append(str(msg["Message-ID"]))
    return ids


@pytest.mark.parametrize("step", STEPS)
def test_every_request_ends_with_one_case_one_booking_one_confirmation(
    step: str, tmp_path: Path, certs: dict[str, Certificate], start_server: Callable[..., SmtpServer]
) -> None:
    server = start_dovecot(tmp_path / "dovecot", certs["server"])
    smtp = start_server()
    try:
        config = write_config(tmp_path, server, smtp.port)
        assert main(["init", "--config", str(config)]) == 0  # the database: `run` creates no file itself
        sent = datetime.now(UTC)
        for n in REQUESTS:
            server.deliver(
                request_email(sent, subject=f"Strategy discussion {n}", n_number=n, message_id=f"<{n}@council.example>")
            )

        crashing = start(config, tmp_path, crash_at=step)
        try:
            assert crashing.wait(timeout=180) == -signal.SIGKILL  # it reached the step and died there
        finally:
            kill_if_running([crashing])  # it never reached the step: no daemon outlives the test

        daemon = start(config, tmp_path)
        try:
            wait_for(lambda: len(set(confirmations(smtp))) == len(REQUESTS), "three confirmations")
            wait_for(lambda: server.message_ids("INBOX") == [], "an empty INBOX")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                assert daemon.wait(timeout=180) == 0
            finally:
                kill_if_running([daemon])

        db = sqlite3.connect(tmp_path / "strategy-bot-data" / "bot.sqlite3")
        cases = sorted(row[0] for row in db.execute("SELECT n_numbers FROM cases"))
        bookings = db.execute("SELECT COUNT(*) FROM bookings WHERE status = 'booked'").fetchone()[0]
        db.close()
        assert cases == list(REQUESTS)
        assert bookings == len(REQUESTS)
        delivered = Counter(confirmations(smtp))
        assert len(delivered) == len(REQUESTS)
        resent = {message_id: count for message_id, count in delivered.items() if count > 1}
        if step == "after_send":
            # Accepted by the server, not yet recorded: that one mail goes again, same Message-ID.
            assert sum(resent.values()) - len(resent) <= 1
        else:
            assert resent == {}
        assert sorted(server.message_ids("Processed")) == sorted(f"<{n}@council.example>" for n in REQUESTS)
    finally:
        server.stop()
