"""`strategy-bot status` and `strategy-bot history` on a store the daemon's service has written."""

from __future__ import annotations

from pathlib import Path

import pytest
from requests_mail import london, request_email

from bot.cli import main
from bot.config import load_config
from bot.ports import IncomingMail
from bot.wiring import build

REPO = Path(__file__).resolve().parents[2]


def test_status_lists_cases_bookings_and_timers_and_history_tells_a_case_s_life(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = tmp_path / "bot.toml"
    config_path.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    bot = build(load_config(config_path))
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

    assert main(["history", "n 146782", "--config", str(config_path)]) == 0
    history = capsys.readouterr().out
    lines = history.splitlines()
    assert lines[0].startswith("SD000001  standard request  N146782")
    actions = [line.split()[6].rstrip(":") for line in lines[1:] if line.strip()]
    assert actions[:3] == ["received", "booked", "email_queued"]
    assert "<status@council.example>" in history and "Bond" not in history

    assert main(["history", "N999999", "--config", str(config_path)]) == 1
    assert "no case" in capsys.readouterr().err
