"""The published .ics feed (issue 18 item 2): a window of the calendar, written off the round thread, atomically."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from icalendar import Calendar

from bot.background import Background
from bot.config import Config
from bot.domain.model import CalendarEvent
from bot.wiring import build
from tests.support.requests_mail import london


def _event(uid: str, start: str, end: str) -> CalendarEvent:
    return CalendarEvent(uid=uid, subject=f"Strategy discussion {uid}", start=london(start), end=london(end))


def test_the_feed_holds_future_and_recent_events_and_not_ancient_ones(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "feed" / "strategy.ics"
    config = replace(config, calendar=replace(config.calendar, ics_path=path, feed_days_back=30))
    bot = build(config, with_mail=False)
    try:
        for uid, start, end in (
            ("N100001", "2024-11-25 10:00", "2024-11-25 10:15"),  # two years ago
            ("N100002", "2026-10-23 10:00", "2026-10-23 10:15"),  # 31 days before the stamp
            ("N100003", "2026-10-25 10:00", "2026-10-25 10:15"),  # 29 days before
            ("N100004", "2026-11-25 10:00", "2026-11-25 10:15"),  # ahead
            ("N100005", "2029-04-04 10:00", "2029-04-04 10:15"),  # years ahead
        ):
            bot.calendar.book(_event(uid, start, end))
        assert bot.publish_calendar(london("2026-11-23 09:00")) == path
        feed = Calendar.from_ical(path.read_bytes())
        assert sorted(str(e["SUMMARY"]) for e in feed.walk("VEVENT")) == [
            "Strategy discussion N100003",
            "Strategy discussion N100004",
            "Strategy discussion N100005",
        ]
        assert len(bot.calendar.all_events()) == 5  # the database keeps them all
        # Written whole and renamed into place: no half-written temporary file left beside it.
        assert [p.name for p in path.parent.iterdir()] == ["strategy.ics"]
    finally:
        bot.close()


def test_background_work_never_holds_up_the_caller_and_asks_made_meanwhile_become_one_run() -> None:
    started = threading.Event()
    release = threading.Event()
    stamps: list[datetime] = []

    def work(stamp: datetime) -> None:
        stamps.append(stamp)
        started.set()
        assert release.wait(180), "the test never released the work"

    feed = Background("test-feed", work)
    try:
        feed.request(london("2026-11-23 09:00"))
        assert started.wait(180)
        # The first run is blocked: asking again returns at once, however long it takes.
        feed.request(london("2026-11-23 09:01"))
        feed.request(london("2026-11-23 09:02"))
        assert stamps == [london("2026-11-23 09:00")]
        release.set()
        assert feed.idle(180)
        assert stamps == [london("2026-11-23 09:00"), london("2026-11-23 09:02")]  # one more run, the latest
        assert feed.runs == 2
    finally:
        release.set()
        feed.close()


def test_closing_runs_what_was_asked_and_a_failed_run_does_not_stop_the_next() -> None:
    stamps: list[datetime] = []
    gate = threading.Event()

    def work(stamp: datetime) -> None:
        assert gate.wait(180)
        stamps.append(stamp)
        if len(stamps) == 1:
            raise OSError("disk full")

    feed = Background("test-feed", work)
    feed.request(london("2026-11-23 09:00"))
    gate.set()
    assert feed.idle(180)
    feed.request(london("2026-11-23 10:00"))
    feed.close()
    assert stamps == [london("2026-11-23 09:00"), london("2026-11-23 10:00")]
