"""`strategy-bot status` and `strategy-bot history` on a store the daemon's service has written."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from bot.daemon import Daemon
from bot.ports import IncomingMail
from bot.wiring import build
from tests.support.requests_mail import StepClock, london, request_email

REPO = Path(__file__).resolve().parents[2]


def test_status_lists_cases_bookings_and_timers_and_history_tells_a_case_s_life(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = tmp_path / "bot.toml"
    config_path.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config(config_path)
    bot = build(config)
    at = london("2030-11-25 09:00")  # a Monday in the future, so its timers are still pending
    raw = request_email(at, message_id="<status@council.example>")
    bot.service.handle(IncomingMail("k", raw, at), at)
    bot.close()

    assert main(["status", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "SD000001  standard  booked" in out and "N146782" in out
    assert "Wed 27 Nov 2030 10:00-10:15  SD000001" in out
    assert "reminder_day_before" in out and "Tue 26 Nov 2030 16:00" in out
    assert "Bond" not in out and "neglect" not in out
    assert "Personal data at rest: NOT sealed (set privacy.key_env)" in out  # the example leaves it to the site

    # The rest of the case's life: the confirmation delivered, the day-before reminder, the
    # manager's CANCEL, and a year later the purge.
    bot = build(config)
    try:
        assert bot.delivery is not None
        bot.delivery.deliver_due(at + timedelta(minutes=1))
        [reminder] = [t for t in bot.service.due_timers(london("2030-11-26 16:00")) if t.case_id == "SD000001"]
        bot.service.handle_due(reminder.id, reminder.due_at)
        cancel_at = london("2030-11-26 16:30")
        cancel = request_email(
            cancel_at,
            subject="RE: Strategy discussion N146782",
            message_id="<cancel@council.example>",
            in_reply_to="<SD000001.confirmation.1@police.example>",
            body="CANCEL\n\nThanks\n",
        )
        bot.service.handle(IncomingMail("c", cancel, cancel_at), cancel_at)
        bot.service.purge(cancel_at + timedelta(days=config.privacy.retention_days + 1))
    finally:
        bot.close()

    assert main(["history", "n 146782", "--config", str(config_path)]) == 0
    history = capsys.readouterr().out
    lines = history.splitlines()
    assert lines[0].startswith("SD000001  standard request  N146782")
    entries = [line.split(None, 6)[6] for line in lines[1:] if line.strip()]
    actions = [entry.split()[0].rstrip(":") for entry in entries]
    assert actions[:4] == ["received", "read", "booked", "email_queued"]
    assert "email_sent" in actions and "timer_fired" in actions
    assert actions.index("email_sent") < actions.index("timer_fired") < actions.index("cancelled")
    assert actions[-1] == "purged"
    assert "alex.morgan@council.example" in lines[1]  # who: the requester, for the request
    assert any(e.startswith("email_sent: confirmation to alex.morgan@council.example") for e in entries)
    assert any("[<cancel@council.example>]" in line and "cancelled" in line for line in lines)
    assert "<status@council.example>" in history and "Bond" not in history and "neglect" not in history

    assert main(["history", "N999999", "--config", str(config_path)]) == 1
    assert "no case" in capsys.readouterr().err


def test_metrics_count_what_the_bot_did_and_the_daemon_keeps_them_in_a_textfile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = tmp_path / "bot.toml"
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    textfile = '# textfile = "/var/lib/node_exporter/textfile/strategy_bot.prom"'
    config_path.write_text(text.replace(textfile, 'textfile = "bot.prom"'), encoding="utf-8")
    config = load_config(config_path)
    assert config.metrics.textfile == tmp_path / "bot.prom"
    bot = build(config)
    at = london("2030-11-25 09:00")
    for n, number in enumerate(["N146782", "N311907"]):
        raw = request_email(at, n_number=number, message_id=f"<metrics.{n}@council.example>")
        bot.service.handle(IncomingMail(f"k{n}", raw, at), at)
    forged = request_email(at, sender="Alex Morgan <alex.morgan@evil.example>", message_id="<forged@evil.example>")
    bot.service.handle(IncomingMail("k3", forged, at), at)
    bot.close()

    assert main(["metrics", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    lines = set(out.splitlines())
    assert 'strategy_bot_messages_total{kind="standard",outcome="processed"} 2.0' in lines
    assert 'strategy_bot_messages_total{kind="unrecognised",outcome="quarantine"} 1.0' in lines
    assert 'strategy_bot_cases{kind="standard",state="booked"} 2.0' in lines
    assert 'strategy_bot_bookings{status="booked"} 2.0' in lines
    # Waiting emails and timers are gauges of their own; the *_total counters only go up.
    assert 'strategy_bot_emails_queued{purpose="confirmation"} 2.0' in lines
    assert 'strategy_bot_emails_queued{purpose="quarantine_notice"} 1.0' in lines
    assert 'strategy_bot_timers_pending{purpose="reminder_day_before"} 2.0' in lines
    assert not [line for line in lines if line.startswith(("strategy_bot_emails_total", "strategy_bot_timers_total"))]
    assert "strategy_bot_outbox_pending 3.0" in lines
    assert "# TYPE strategy_bot_messages_total counter" in lines
    assert "N146782" not in out and "Bond" not in out and "evil" not in out

    # The daemon's round writes the same figures to the textfile, where node_exporter reads them.
    bot = build(config)
    try:
        Daemon(bot, StepClock(at + timedelta(minutes=1))).round()
    finally:
        bot.close()
    written = (tmp_path / "bot.prom").read_text(encoding="utf-8").splitlines()
    assert 'strategy_bot_messages_total{kind="standard",outcome="processed"} 2.0' in written
    assert 'strategy_bot_emails_total{purpose="confirmation",status="sent"} 2.0' in written
    assert "strategy_bot_outbox_pending 0.0" in written
    assert "strategy_bot_inbox_up 1.0" in written
    assert not list(tmp_path.glob(".bot.prom*"))


def test_metrics_that_cannot_be_written_are_logged_and_the_round_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(None, base=tmp_path)
    (tmp_path / "bot.prom").mkdir()  # a folder where the file should be: the write fails
    config = replace(config, metrics=replace(config.metrics, textfile=tmp_path / "bot.prom"))
    bot = build(config)
    at = london("2030-11-25 09:00")
    try:
        assert bot.inbox is not None
        bot.inbox.deliver(request_email(at, message_id="<metrics.fail@council.example>"))  # type: ignore[attr-defined]
        Daemon(bot, StepClock(at)).round()
    finally:
        bot.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("metrics not written to" in m for m in messages)
    assert not any("round failed" in m for m in messages)  # the round went on to arm the next timer
