"""The embedded default killed mid-delivery: no email half-delivered, then each delivered exactly once.

`strategy-bot run` on the Maildirs is killed (SIGKILL, ``STRATEGY_BOT_CRASH_AT=after_send``) right
after its first email was handed to the Maildir sender, inside the delivery round's batch, where
emails wait in ``tmp/`` until the batch is made durable (issue 18). The sent Maildir's ``new/`` then
holds nothing a mail client could read half-written; the daemon started again delivers every email
once, with its Message-ID, and records each sent. About 6 s: two daemon starts, each reading the
requests in the time-limited reader's worker process.
"""

from __future__ import annotations

import mailbox
import os
import signal
import sqlite3
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from bot.failpoints import ENV
from tests.support.daemons import kill_if_running, sent_messages, start_logged, wait_for
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]
REQUESTS = ("N146782", "N146783", "N146784")


def test_a_daemon_killed_inside_a_delivery_round_leaves_new_empty_and_then_sends_each_email_once(
    tmp_path: Path,
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    data = tmp_path / "strategy-bot-data"
    inbox = mailbox.Maildir(data / "inbox", create=False)
    now = datetime.now(UTC)
    for n in REQUESTS:
        inbox.add(
            request_email(now, subject=f"Strategy discussion {n}", n_number=n, message_id=f"<{n}@council.example>")
        )
    sent = data / "sent"
    env = {k: v for k, v in os.environ.items() if k != ENV}
    started = []
    try:
        crashing = start_logged(config, tmp_path, tmp_path / "daemon.log", env={**env, ENV: "after_send"})
        started.append(crashing)
        assert crashing.wait(timeout=180) == -signal.SIGKILL  # it handed an email over and died there
        assert os.listdir(sent / "new") == []  # the round's batch never ended: nothing there to read

        daemon = start_logged(config, tmp_path, tmp_path / "daemon.log", env=env, append=True)
        started.append(daemon)
        db = data / "bot.sqlite3"

        def all_sent() -> bool:
            with closing(sqlite3.connect(db)) as conn:
                waiting = conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()[0]
                return bool(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] > 0 and waiting == 0)

        wait_for(lambda: not inbox.keys() and all_sent(), "every request handled and every email recorded sent")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=180) == 0
    finally:
        kill_if_running(started)

    delivered = Counter(str(msg["Message-ID"]) for msg in sent_messages(sent))
    with closing(sqlite3.connect(data / "bot.sqlite3")) as conn:
        recorded = sorted(row[0] for row in conn.execute("SELECT message_id FROM outbox"))
        cases = sorted(row[0] for row in conn.execute("SELECT n_numbers FROM cases"))
    assert cases == list(REQUESTS)
    assert sorted(delivered) == recorded  # every email the bot queued is in the Maildir ...
    assert set(delivered.values()) == {1}  # ... once
    assert sum(".confirmation." in message_id for message_id in delivered) == len(REQUESTS)
