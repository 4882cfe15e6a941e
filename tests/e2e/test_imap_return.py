"""The IMAP server's return is noticed at once, not at the next poll (issue 19 item 6: reconnect within 10 s).

Before, the bot took 53 s to read the inbox again after an outage: the back-off grew to 300 s,
and a reconnected watcher sat in IDLE waiting for news of mail that had arrived already. Now
the back-off is capped at 5 s by default, and the watcher's reconnection starts a round
itself. Here the poll is an hour, so only that can read the request that came in while the
bot was away.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from tests.e2e.test_crash_real_servers import confirmations, start
from tests.support.daemons import kill_if_running, wait_for
from tests.support.dovecot import bot_config, start_dovecot
from tests.support.mail_servers import Certificate, SmtpServer
from tests.support.requests_mail import request_email


def inbox_answering(database: Path) -> bool | None:
    """What the daemon last recorded for `status`: is the inbox answering (None before its first round)."""
    db = sqlite3.connect(database, timeout=120)
    try:
        row = db.execute("SELECT value FROM adapter_state WHERE key = 'health:inbox'").fetchone()
    finally:
        db.close()
    return None if row is None else bool(json.loads(row[0])["ok"])


def test_a_request_that_came_while_the_imap_server_was_down_is_read_when_it_returns_not_at_the_next_poll(
    tmp_path: Path, certs: dict[str, Certificate], start_server: Callable[..., SmtpServer]
) -> None:
    server = start_dovecot(tmp_path / "dovecot", certs["server"])
    smtp = start_server()
    try:
        config = bot_config(
            tmp_path,
            server,
            smtp.port,
            # Tries 2 s apart, so the request below lands before the watcher is back in IDLE.
            imap={"retry_first_seconds": 2, "retry_max_seconds": 2},
            inbox={"poll_seconds": 3600},
        )
        assert main(["init", "--config", str(config)]) == 0
        database = tmp_path / "strategy-bot-data" / "bot.sqlite3"
        daemon = start(config, tmp_path)
        try:
            wait_for(lambda: inbox_answering(database) is True, "the first round")
            server.stop()
            wait_for(lambda: inbox_answering(database) is False, "the bot to see the server gone")
            server.start()
            sent = datetime.now(UTC)
            server.deliver(request_email(sent, subject="Strategy discussion N146790", n_number="N146790"))
            wait_for(lambda: len(confirmations(smtp)) == 1, "the request read and confirmed")
            assert server.message_ids("INBOX") == []
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                assert daemon.wait(timeout=180) == 0
            finally:
                kill_if_running([daemon])  # no daemon outlives the test
    finally:
        server.stop()
