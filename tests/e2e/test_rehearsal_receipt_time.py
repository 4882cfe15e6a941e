"""Rehearsal (`run --clock-start`): receipt times on the simulated clock, so bookings follow it (issue 17.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import load_config
from bot.daemon import Daemon
from bot.rehearsal import RehearsalInbox, rehearsing
from bot.status import history_json
from bot.wiring import build
from tests.support.requests_mail import StepClock, london, request_email

REPO = Path(__file__).resolve().parents[2]
START = london("2030-11-25 09:00")  # a Monday: the request is booked for Wednesday 27th at 10:00


def test_a_request_in_a_rehearsal_is_received_and_booked_on_the_simulated_date(tmp_path: Path) -> None:
    config_path = tmp_path / "bot.toml"
    config_path.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    clock = StepClock(START)
    bot = rehearsing(build(load_config(config_path)), clock)
    try:
        bot.inbox.deliver(request_email(START, message_id="<rehearsal@council.example>"))  # type: ignore[union-attr]
        Daemon(bot, clock).round()
        [event] = bot.calendar.all_events()  # type: ignore[attr-defined]
        assert event.start == london("2030-11-27 10:00")  # not two days after today's real date
        history = history_json(bot, "N146782")
        assert history is not None
        received = history["cases"][0]["entries"][0]
        assert received["action"] == "received" and received["at"] == "2030-11-25T09:00:00+00:00"
    finally:
        bot.close()


def test_receipt_times_keep_their_spacing_scaled_by_the_clock_speed() -> None:
    real = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    clock = StepClock(START, speed=60.0)
    inbox = RehearsalInbox(None, clock, real_now=lambda: real)  # type: ignore[arg-type]
    clock.at = START + timedelta(hours=2)
    assert inbox.simulated(real - timedelta(seconds=30)) == START + timedelta(hours=1, minutes=30)
    assert inbox.simulated(real) == START + timedelta(hours=2)
    assert inbox.simulated(real - timedelta(days=1)) == START  # waiting when the rehearsal began
    assert inbox.simulated(real + timedelta(seconds=5)) == START + timedelta(hours=2)  # a clock a little ahead
