"""Chaos: `strategy-bot run` on a real Dovecot and a slow aiosmtpd, SIGKILLed at random moments (issue 19).

The SMTP server stores each email and answers 150 ms later, so kills land inside SMTP
sessions as they would on a busy day. Requests keep arriving between kills. At the end every
request has exactly one case, every email the bot recorded reached the server, nothing waits
in the outbox, and an email the server got twice carried the same Message-ID both times
(SMTP is at-least-once: README, Reliability). The duplicate rate is printed.

The kill moments come from a seeded generator; the seed is printed, and
``STRATEGY_BOT_CHAOS_SEED=<seed>`` replays the same moments.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli import main
from tests.e2e.test_crash_real_servers import start, write_config
from tests.support.daemons import kill_if_running, wait_for
from tests.support.dovecot import start_dovecot
from tests.support.mail_servers import Certificate, RecordingHandler, SmtpServer
from tests.support.requests_mail import request_email

SEED_ENV = "STRATEGY_BOT_CHAOS_SEED"
KILLS = 8
# Where each kill lands: in start-up (0-0.5 s after launch), anywhere once the daemon says it
# is running (0-1.5 s after), or in an SMTP session (0-0.3 s after an email is marked sending,
# that is inside the server's 150 ms or just after it).
MOMENTS = ("start-up", "running", "sending", "sending")
KILL_AFTER_START = (0.0, 0.5)
KILL_AFTER_RUNNING = (0.0, 1.5)
KILL_AFTER_SENDING = (0.0, 0.3)
# How long to look for an email being sent before killing anyway (the bot may have none left).
LOOK_FOR_SENDING = 5.0
SERVER_ANSWERS_AFTER = 0.15  # seconds between storing an email and saying 250


@dataclass
class SlowHandler(RecordingHandler):
    """Stores the email, then answers: a crash in between leaves the server holding a mail we never heard of."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(SERVER_ANSWERS_AFTER)
        return reply


def running(log: Path) -> int:
    """How many starts have said "strategy-bot running" in the daemons' shared log."""
    return log.read_text(errors="replace").count("strategy-bot running") if log.exists() else 0


def message_id(content: bytes) -> str:
    return str(email.message_from_bytes(content, policy=email.policy.default)["Message-ID"])


def outbox(database: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(database, timeout=120)
    try:
        return [(str(row[0]), str(row[1])) for row in db.execute("SELECT message_id, status FROM outbox")]
    finally:
        db.close()


def test_random_sigkills_lose_nothing_and_duplicate_only_with_the_same_message_id(
    tmp_path: Path, certs: dict[str, Certificate], start_server: Callable[..., SmtpServer]
) -> None:
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(10**6))
    print(f"\nchaos seed {seed} (replay with {SEED_ENV}={seed})")
    chance = random.Random(seed)
    server = start_dovecot(tmp_path / "dovecot", certs["server"])
    smtp = start_server()
    slow = SlowHandler()
    smtp.controller.handler = slow  # every SMTP session from now on is answered slowly
    smtp.handler = slow
    requests: list[str] = []

    def arrive(count: int) -> None:
        for _ in range(count):
            n = f"N{500000 + len(requests)}"
            urgent = len(requests) % 4 == 3  # one in four is urgent: acknowledgement, duty referral, ladder
            subject = f"URGENT S47 ENQUIRY {n}" if urgent else f"Strategy discussion {n}"
            raw = request_email(datetime.now(UTC), subject=subject, n_number=n, message_id=f"<{n}@council.example>")
            server.deliver(raw)
            requests.append(n)

    daemon: subprocess.Popen[bytes] | None = None
    try:
        config = write_config(tmp_path, server, smtp.port)  # retries within 1 s, a poll every 0.5 s
        assert main(["init", "--config", str(config)]) == 0
        database = tmp_path / "strategy-bot-data" / "bot.sqlite3"
        arrive(8)
        kills_in_smtp = 0
        log = tmp_path / "daemon.log"
        for _ in range(KILLS):
            said = running(log)
            daemon = start(config, tmp_path)
            moment = chance.choice(MOMENTS)
            # Each sleep below is the random moment itself, never a wait for something to happen.
            if moment == "start-up":
                time.sleep(chance.uniform(*KILL_AFTER_START))
            elif moment == "running":
                wait_for(lambda: running(log) > said, "the daemon to say it is running")  # noqa: B023
                time.sleep(chance.uniform(*KILL_AFTER_RUNNING))
            else:
                look_until = time.monotonic() + LOOK_FOR_SENDING
                while time.monotonic() < look_until and not any(s == "sending" for _, s in outbox(database)):
                    time.sleep(0.01)
                time.sleep(chance.uniform(*KILL_AFTER_SENDING))
            in_session = any(status == "sending" for _, status in outbox(database))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(timeout=180)
            kills_in_smtp += in_session
            arrive(chance.randint(0, 2))

        daemon = start(config, tmp_path)
        try:
            wait_for(lambda: server.message_ids("INBOX") == [], "an empty INBOX", timeout=120)
            wait_for(
                lambda: all(status in ("sent", "failed") for _, status in outbox(database)),
                "an empty outbox",
                timeout=120,
            )
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=180) == 0

        db = sqlite3.connect(database, timeout=120)
        cases = Counter(row[0] for row in db.execute("SELECT n_numbers FROM cases"))
        db.close()
        rows = outbox(database)
        received = Counter(message_id(r.content) for r in slow.received)
        processed = Counter(server.message_ids("Processed"))
    finally:
        kill_if_running([daemon] if daemon is not None else [])  # a failure above: no daemon outlives the test
        server.stop()

    assert sorted(cases) == sorted(requests)  # no request lost
    assert set(cases.values()) == {1}  # one case per request
    assert processed == Counter(f"<{n}@council.example>" for n in requests)
    assert {status for _, status in rows} == {"sent"}
    # Every email the bot sent reached the server, and under no second Message-ID: what the
    # server holds beyond one of each is the same email again.
    assert set(received) == {mid for mid, _ in rows}
    duplicates = sum(received.values()) - len(received)
    print(
        f"chaos seed {seed}: {KILLS} SIGKILLs ({kills_in_smtp} with an email being sent), {len(requests)} requests, "
        f"{sum(received.values())} emails received for {len(received)} sent: {duplicates} duplicate(s), "
        f"rate {duplicates / max(1, len(received)):.1%}, each with the same Message-ID"
    )
