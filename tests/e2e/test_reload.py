"""SIGHUP to a running `strategy-bot run`: the file read again, what can change applied, the rest named.

The daemon runs as a subprocess on the example's Maildir inbox and sender. The test edits the
file, sends SIGHUP, and reads what the admin reads: the log, and the next email the bot sends.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from tests.support.daemons import kill_if_running, start_logged, stopped_once_it_catches, wait_for
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]
# Only so that a broken daemon fails the test instead of hanging the suite.
GIVE_UP_SECONDS = 180.0  # an overall bound only: a busy machine may be slow


def duty_referrals_to(sent: Path) -> list[str]:
    """The To of every duty_referral email in the sender's Maildir, by case (SD000001 first)."""
    found = []
    folder = mailbox.Maildir(sent, create=False)
    for key in folder.iterkeys():
        msg = email.message_from_bytes(folder.get_bytes(key), policy=email.policy.default)
        if ".duty_referral." in str(msg["Message-ID"]):
            found.append((str(msg["Message-ID"]), str(msg["To"])))
    return [to for _, to in sorted(found)]


def test_sighup_applies_live_keys_names_the_others_and_survives_a_bad_file(tmp_path: Path) -> None:
    original = (REPO / "config.example.toml").read_text(encoding="utf-8")
    assert 'duty_ds = "duty.ds@police.example"\n' in original
    config = tmp_path / "bot.toml"
    config.write_text(original, encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    data = tmp_path / "strategy-bot-data"
    inbox = mailbox.Maildir(data / "inbox", create=False)
    log_path = tmp_path / "daemon.log"
    proc = start_logged(config, tmp_path, log_path, new_session=True)

    def log() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")

    try:
        wait_for(lambda: "strategy-bot running on" in log(), "the daemon to start", proc=proc)
        inbox.add(request_email(datetime.now(UTC), subject="URGENT S47 ENQUIRY N100001", n_number="N100001"))
        assert wait_for(lambda: duty_referrals_to(data / "sent"), "the first duty referral", proc=proc) == [
            "duty.ds@police.example"
        ]

        # A new duty DS (live) and a new database path (not live), then SIGHUP.
        edited = original.replace('duty_ds = "duty.ds@police.example"', 'duty_ds = "duty.ds2@police.example"')
        edited = edited.replace('path = "strategy-bot-data/bot.sqlite3"', 'path = "elsewhere/bot.sqlite3"')
        assert edited.count("duty.ds2@") == 1 and "elsewhere/" in edited
        config.write_text(edited, encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(lambda: "(SIGHUP): applied" in log(), "the reload", proc=proc)
        [applied] = [line for line in log().splitlines() if "(SIGHUP): applied" in line]
        assert applied.endswith(f"configuration reloaded from {config} (SIGHUP): applied people.duty_ds")
        assert "configuration: store.url cannot change while the bot runs; keeping the old value" in log()
        inbox.add(request_email(datetime.now(UTC), subject="URGENT S47 ENQUIRY N100002", n_number="N100002"))
        wait_for(lambda: len(duty_referrals_to(data / "sent")) == 2, "the second duty referral", proc=proc)
        assert duty_referrals_to(data / "sent") == ["duty.ds@police.example", "duty.ds2@police.example"]
        assert not (tmp_path / "elsewhere").exists()  # still on the old database

        # A file that does not load: said, and the daemon goes on with what it has.
        config.write_text(edited.replace("[people]", "[people", 1), encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(lambda: "configuration not reloaded (SIGHUP)" in log(), "the refusal", proc=proc)
        assert "still running on the previous one" in log()
        inbox.add(request_email(datetime.now(UTC), subject="URGENT S47 ENQUIRY N100003", n_number="N100003"))
        wait_for(lambda: len(duty_referrals_to(data / "sent")) == 3, "the third duty referral", proc=proc)
        assert duty_referrals_to(data / "sent")[2] == "duty.ds2@police.example"
        assert proc.poll() is None

        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=GIVE_UP_SECONDS) == 0
    finally:
        kill_if_running([proc], group=True)
    text = log()
    assert "Traceback" not in text
    assert text.rstrip().endswith("strategy-bot stopped")


def test_a_sighup_while_the_daemon_starts_does_not_kill_it(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    log_path = tmp_path / "daemon.log"
    proc = start_logged(config, tmp_path, log_path)
    try:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        # Looked at while SIGSTOPped, so that "still starting" holds when the signal comes (see pause).
        stopped_once_it_catches(proc, signal.SIGHUP, deadline)  # installed first thing by `python -m bot run`
        assert "strategy-bot running" not in log_path.read_text()  # still starting
        proc.send_signal(signal.SIGHUP)  # pending until the daemon runs again
        proc.send_signal(signal.SIGCONT)
        wait_for(lambda: "strategy-bot running on" in log_path.read_text(), "the daemon to start", proc=proc)
        # Remembered: once running, the daemon reads the file again (it may have changed meanwhile).
        wait_for(lambda: "configuration reloaded from" in log_path.read_text(), "the reload", proc=proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GIVE_UP_SECONDS) == 0  # not -1 (SIGHUP) nor 129
    finally:
        kill_if_running([proc])  # SIGKILL ends a stopped process too
    assert log_path.read_text().rstrip().endswith("strategy-bot stopped")
