"""The daemon killed with SIGKILL across due times and restarted: each overdue email goes exactly once, marked late."""

from __future__ import annotations

import mailbox
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bot.cli import main
from tests.support.daemons import kill_if_running, sent_messages, wait_for
from tests.support.requests_mail import london, request_email

REPO = Path(__file__).resolve().parents[2]


def start(config: Path, cwd: Path, clock_start: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config), "--clock-start", clock_start],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def sent_purposes(folder: Path) -> list[str]:
    return [str(msg["Message-ID"]).strip("<>").split("@")[0].split(".")[1] for msg in sent_messages(folder)]


def test_overdue_escalations_fire_exactly_once_after_sigkill_and_restart(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0  # `run` creates no folder itself
    sent = data / "sent"
    inbox = mailbox.Maildir(data / "inbox", create=True)
    t0 = london("2026-11-23 14:00")
    key = inbox.add(
        request_email(
            t0, subject="URGENT S47 ENQUIRY N311907", n_number="N311907", message_id="<restart@council.example>"
        )
    )
    arrived = (t0 + timedelta(minutes=1)).timestamp()
    os.utime(data / "inbox" / "new" / key, (arrived, arrived))

    started: list[subprocess.Popen[str]] = []
    try:
        # 1. The request is handled; the daemon dies before either escalation is due.
        first = start(config, tmp_path, (t0 + timedelta(minutes=2)).isoformat())
        started.append(first)
        wait_for(lambda: sorted(sent_purposes(sent)) == ["duty_referral", "urgent_acknowledgement"])
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=180)

        # 2. Back up after t0+60: escalation_60 is overdue and fires at once; killed again straight after.
        second = start(config, tmp_path, (t0 + timedelta(minutes=65)).isoformat())
        started.append(second)
        wait_for(lambda: "escalation_60" in sent_purposes(sent))
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=180)

        # 3. Back up after t0+90: only escalation_90 is left to fire.
        third = start(config, tmp_path, (t0 + timedelta(minutes=95)).isoformat())
        started.append(third)
        wait_for(lambda: "escalation_90" in sent_purposes(sent))
        time.sleep(1.0)  # a chance to misbehave: send anything twice (widens the window; never needed to pass)
        third.send_signal(signal.SIGTERM)
        _, err = third.communicate(timeout=180)
        assert third.returncode == 0, err
    finally:
        kill_if_running(started)  # a failed wait leaves no daemon behind

    assert sorted(sent_purposes(sent)) == ["duty_referral", "escalation_60", "escalation_90", "urgent_acknowledgement"]
    db = sqlite3.connect(data / "bot.sqlite3")
    outbox = db.execute("SELECT purpose, count(*) FROM outbox GROUP BY purpose ORDER BY purpose").fetchall()
    timers = dict(db.execute("SELECT purpose, status || ':' || late FROM timers WHERE case_id IS NOT NULL").fetchall())
    history = [d for (d,) in db.execute("SELECT detail FROM history WHERE action = 'timer_fired' ORDER BY id")]
    db.close()
    assert outbox == [("duty_referral", 1), ("escalation_60", 1), ("escalation_90", 1), ("urgent_acknowledgement", 1)]
    # The rest of the ladder (t0+120 and the repeats) is still to come.
    assert timers == {
        "escalation_60": "fired:1",
        "escalation_90": "fired:1",
        "escalation_120": "pending:0",
        "escalation_repeat": "pending:0",
    }
    assert history[0].startswith("escalation_60 late by") and history[1].startswith("escalation_90 late by")
    assert "timer escalation_90 for case SD000001 fired late" in err
