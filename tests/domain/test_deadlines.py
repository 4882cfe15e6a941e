"""When each timer falls due (issue 3, domain.md §4.3 and §5), across bank holidays and clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.domain.deadlines import (
    add_working_time,
    booking_deadlines,
    day_before_reminder,
    minutes_deadlines,
    next_agenda,
    outcome_deadlines,
    urgent_ladder,
)
from bot.domain.working_days import WorkingDays

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
TIMERS, SCHEDULE = CONFIG.timers, CONFIG.schedule
DAYS = WorkingDays.from_schedule(SCHEDULE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("ended", "due", "reminder"),
    [
        ("2026-11-23 10:15", "2026-11-24 10:15", "2026-11-23 16:15"),  # Monday → Tuesday
        ("2026-11-27 10:15", "2026-11-30 10:15", "2026-11-27 16:15"),  # Friday → Monday
        ("2026-11-23 19:00", "2026-11-24 18:00", "2026-11-24 14:00"),  # after hours: counts from 08:00
        ("2026-11-28 11:00", "2026-11-30 18:00", "2026-11-30 14:00"),  # a Saturday
        ("2026-12-24 10:15", "2026-12-29 10:15", "2026-12-24 16:15"),  # Christmas and Boxing Day substitute
        ("2026-10-23 10:15", "2026-10-26 10:15", "2026-10-23 16:15"),  # clocks go back on the 25th
        ("2027-03-25 10:15", "2027-03-30 10:15", "2027-03-25 16:15"),  # Easter, clocks forward on the 28th
    ],
)
def test_minutes_are_due_one_working_day_after_the_discussion(ended: str, due: str, reminder: str) -> None:
    found = {d.purpose: d.due for d in minutes_deadlines(at(ended), TIMERS, DAYS, LONDON)}
    assert found == {"minutes_overdue": at(due), "minutes_reminder": at(reminder)}


def test_working_time_keeps_local_wall_clock_across_the_change() -> None:
    due = add_working_time(at("2026-10-23 10:15"), 10, TIMERS.working_day_start, TIMERS.working_day_end, DAYS, LONDON)
    assert due.utcoffset() == at("2026-10-26 10:15").utcoffset()
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "reminder"),
    [
        ("2026-11-25 10:00", "2026-11-24 16:00"),
        ("2026-11-30 10:00", "2026-11-27 16:00"),  # Monday → the Friday before
        ("2026-12-30 10:00", "2026-12-29 16:00"),
        ("2027-01-04 10:00", "2026-12-31 16:00"),  # New Year's Day is a bank holiday
        ("2027-03-31 10:00", "2027-03-30 16:00"),  # after the spring change: still 16:00 local
    ],
)
def test_day_before_reminder_is_at_four_on_the_previous_working_day(start: str, reminder: str) -> None:
    assert day_before_reminder(at(start), TIMERS.reminder_day_before_time, DAYS, LONDON) == at(reminder)


def test_a_booked_discussion_has_its_reminders_minutes_pack_and_minutes_deadlines() -> None:
    plan = [
        (d.purpose, d.due)
        for d in booking_deadlines(at("2026-11-25 10:00"), at("2026-11-25 10:15"), TIMERS, DAYS, LONDON)
    ]
    assert plan == [
        ("reminder_day_before", at("2026-11-24 16:00")),
        ("reminder_30_min", at("2026-11-25 09:30")),
        ("minutes_template", at("2026-11-25 10:00")),
        ("minutes_reminder", at("2026-11-25 16:15")),
        ("minutes_overdue", at("2026-11-26 10:15")),
    ]


def test_the_urgent_ladder_fires_at_any_hour() -> None:
    t0 = at("2026-11-29 02:10")  # a Sunday night
    assert [(d.purpose, d.due) for d in urgent_ladder(t0, TIMERS)] == [
        ("escalation_60", at("2026-11-29 03:10")),
        ("escalation_90", at("2026-11-29 03:40")),
    ]


def test_later_timescales_after_an_s47_outcome() -> None:
    plan = [(d.purpose, d.due, d.detail) for d in outcome_deadlines(date(2026, 11, 25), TIMERS, DAYS, LONDON)]
    assert plan == [
        ("s47_outcome_due", at("2026-11-30 09:00"), ""),
        ("icpc_due", at("2026-12-09 09:00"), "5"),
        ("icpc_due", at("2026-12-16 09:00"), "0"),
    ]


@pytest.mark.parametrize(
    ("after", "agenda"),
    [
        ("2026-11-23 08:59", "2026-11-23 09:00"),
        ("2026-11-23 09:00", "2026-11-25 09:00"),
        ("2026-11-28 12:00", "2026-11-30 09:00"),
        ("2026-12-23 10:00", "2026-12-30 09:00"),  # Christmas Day and the Boxing Day substitute are skipped
    ],
)
def test_next_daily_agenda(after: str, agenda: str) -> None:
    assert next_agenda(at(after), SCHEDULE, TIMERS, DAYS, LONDON) == at(agenda)
