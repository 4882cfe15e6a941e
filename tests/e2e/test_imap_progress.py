"""Under IMAP, progress is kept a few messages at a time (issue 19 Why 9).

Before, a batch of 50 had to be handled before anything was committed, so a daemon restarted
every few seconds never got through a backlog. Now the IMAP inbox is committed and moved out
five messages at a time: a daemon killed at its first commit has kept those five.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.imap_inbox import COMMIT_EVERY
from bot.cli import main
from tests.e2e.test_crash_real_servers import start, write_config
from tests.support.daemons import kill_if_running
from tests.support.dovecot import start_dovecot
from tests.support.mail_servers import Certificate, SmtpServer
from tests.support.requests_mail import request_email

REQUESTS = [f"N7{i:05d}" for i in range(12)]


def test_a_daemon_killed_at_its_first_commit_has_kept_the_first_few_messages(
    tmp_path: Path, certs: dict[str, Certificate], start_server: Callable[..., SmtpServer]
) -> None:
    server = start_dovecot(tmp_path / "dovecot", certs["server"])
    smtp = start_server()
    try:
        config = write_config(tmp_path, server, smtp.port)
        assert main(["init", "--config", str(config)]) == 0
        sent = datetime.now(UTC)
        for n in REQUESTS:
            server.deliver(request_email(sent, subject=f"Strategy discussion {n}", n_number=n, message_id=f"<{n}@x>"))

        crashing = start(config, tmp_path, crash_at="after_commit")
        try:
            assert crashing.wait(timeout=180) == -signal.SIGKILL
        finally:
            kill_if_running([crashing])  # never reached the step: no daemon outlives the test

        db = sqlite3.connect(tmp_path / "strategy-bot-data" / "bot.sqlite3")
        cases = sorted(row[0] for row in db.execute("SELECT n_numbers FROM cases"))
        db.close()
        left = server.message_ids("INBOX")
    finally:
        server.stop()
    assert COMMIT_EVERY == 5
    assert cases == REQUESTS[:5]  # the first group, committed before the kill; the rest not yet read
    assert len(left) == len(REQUESTS)  # killed before moving them: they are offered again, recognised
