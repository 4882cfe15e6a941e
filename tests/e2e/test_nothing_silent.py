"""Nothing silent: a round failing again and again is told once, and so is an inbox where no mail arrives.

The repeated failure is a real one: emails queued sealed with one key, and the daemon started
with another (`privacy.key_env` changed without keeping the old key). Every round's delivery
fails on them, and the alert itself cannot go out through the outbox it is stuck behind; the
second route is the log at ERROR and `strategy-bot health` down.
"""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config
from bot.daemon import Daemon
from bot.round_watch import FAILED_ROUNDS_ALERT, RoundWatch
from bot.sealing import new_key
from bot.wiring import build
from tests.support.requests_mail import StepClock, london, plain_text, request_email


def sent(folder: Path) -> list[EmailMessage]:
    """The emails delivered to the sender's Maildir, in the order the bot's clock queued them (their Date).

    Not by the files' times: two emails delivered in one batch can be written within one tick of
    the file system's clock, and then came out in the order of their (hashed) names.
    """
    found = []
    for path in sorted((folder / "new").glob("*"), key=lambda p: p.stat().st_mtime_ns):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found.append(msg)
    return sorted(found, key=lambda m: parsedate_to_datetime(str(m["Date"])))  # stable: ties keep the file order


def admin_alerts(folder: Path) -> list[str]:
    """The subjects of the emails to the administrator (people.administrator in the example)."""
    return [str(m["Subject"]) for m in sent(folder) if str(m["To"]) == "bot.admin@police.example"]


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_round_failing_again_and_again_is_told_once_by_the_log_and_by_health(
    config: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = new_key(), new_key()
    sealed = replace(config, privacy=replace(config.privacy, key_env="C2_TEST_KEY"))
    now = london("2026-11-23 10:00")
    monkeypatch.setenv("C2_TEST_KEY", old)
    bot = build(sealed)
    bot.service.alert_admin("earlier", "An earlier alert", [], "Nothing to do.", now)
    bot.close()

    monkeypatch.setenv("C2_TEST_KEY", new)  # the old key dropped: what it sealed cannot be opened
    bot = build(sealed)
    clock = StepClock(now)
    daemon = Daemon(bot, clock)
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(FAILED_ROUNDS_ALERT + 3):
                clock.at += timedelta(seconds=2)
                daemon.round()
            assert not daemon.stopping  # not a storage fault: it keeps trying
            # SIGTERM now: a clean stop, though the last delivery fails as every round did.
            daemon.stop(15)
            assert daemon.run() == 0
    finally:
        bot.close()
    assert "the last delivery before stopping failed: PermanentError; it goes at the next start" in errors(caplog)
    lines = errors(caplog)
    assert lines.count("round failed: PermanentError; retrying on the next poll") == 1
    told = f"round failed {FAILED_ROUNDS_ALERT} times in a row: PermanentError; the administrator is told"
    assert lines.count(told) == 1
    assert "the administrator could not be emailed (PermanentError): see `strategy-bot health` and the metrics" in lines
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)  # no traceback
    assert admin_alerts(sealed.sender.path) == []  # stuck behind the email that cannot be opened

    # The second route: `strategy-bot health` (the embedded default, on the same folder) says it.
    monkeypatch.chdir(tmp_path)
    assert main(["health"]) == 2
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if " rounds: " in line]
    assert line.startswith("down")
    assert f"FAILING since Mon 23 Nov 2026 10:00, {FAILED_ROUNDS_ALERT} times in a row or more: PermanentError" in line
    # ...and the metrics.
    assert main(["metrics"]) == 0
    assert "strategy_bot_rounds_failing 1.0" in capsys.readouterr().out.splitlines()


def test_when_the_sender_works_the_administrator_is_emailed_once_and_told_when_it_mends(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    bot = build(config)
    watch = RoundWatch(bot)
    now = london("2026-11-23 10:00")
    try:
        with caplog.at_level(logging.INFO):
            for i in range(FAILED_ROUNDS_ALERT + 5):
                assert watch.failed(RuntimeError("details never logged"), now + timedelta(seconds=i)) is None
            watch.succeeded(now + timedelta(minutes=1))
            watch.succeeded(now + timedelta(minutes=2))
    finally:
        bot.close()
    assert admin_alerts(config.sender.path) == [
        f"The bot's rounds have failed {FAILED_ROUNDS_ALERT} times in a row",
        "The bot's rounds succeed again",
    ]
    assert not any("details never logged" in r.getMessage() for r in caplog.records)


def test_no_mail_in_the_maildir_for_the_configured_working_hours_is_told_once(config: Config) -> None:
    quiet = replace(config, inbox=replace(config.inbox, quiet_alert_hours=2.0))
    bot = build(quiet)
    start = london("2026-11-23 17:00")  # a Monday; working hours are 08:00-18:00
    clock = StepClock(start)
    daemon = Daemon(bot, clock)
    try:
        daemon.round()
        # Two working hours from 17:00 on Monday end at 09:00 on Tuesday: the night does not count.
        for at in ("2026-11-23 17:59", "2026-11-23 23:00", "2026-11-24 08:59"):
            clock.at = london(at)
            daemon.round()
        assert admin_alerts(quiet.sender.path) == []
        for at in ("2026-11-24 09:00", "2026-11-24 12:00"):
            clock.at = london(at)
            daemon.round()
        assert admin_alerts(quiet.sender.path) == ["No new mail in the referral inbox for 2 working hours"]
        [alert] = [m for m in sent(quiet.sender.path) if str(m["Subject"]).startswith("No new mail")]
        assert f"Inbox:       {quiet.inbox.path}" in plain_text(alert)  # names the folder it watches

        # Mail arrives: the watch starts again from it, and says nothing more until it is quiet again.
        mailbox.Maildir(quiet.inbox.path, create=False).add(request_email(london("2026-11-24 12:30")))
        clock.at = london("2026-11-24 12:30")
        daemon.round()
        clock.at = london("2026-11-24 14:29")
        daemon.round()
        assert len(admin_alerts(quiet.sender.path)) == 1
        clock.at = london("2026-11-24 14:30")
        daemon.round()
        assert len(admin_alerts(quiet.sender.path)) == 2
    finally:
        bot.close()
