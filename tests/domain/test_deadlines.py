"""When each timer falls due (issue 3, domain.md §4.3 and §5), across bank holidays and clock changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
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


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


LADDER_STEPS = ["escalation_60", "escalation_90", "escalation_120"] + ["escalation_repeat"] * 6


@pytest.mark.parametrize(
    "t0",
    [
        at("2026-11-29 02:10"),  # a Sunday night
        at("2026-11-27 19:40"),  # a Friday evening: the ladder runs into Saturday morning
        at("2026-12-25 07:00"),  # Christmas Day
        at("2026-03-29 00:30"),  # clocks go forward at 01:00
        at("2026-10-25 00:30"),  # clocks go back at 02:00
    ],
)
def test_the_urgent_ladder_counts_real_minutes_at_any_hour(t0: datetime) -> None:
    ladder = urgent_ladder(t0, TIMERS, CONFIG.urgent.settings)
    assert [d.purpose for d in ladder] == LADDER_STEPS
    # Subtracted in UTC: real elapsed time, whatever the wall clock did meanwhile.
    elapsed = [(d.due.astimezone(UTC) - t0.astimezone(UTC)) // timedelta(minutes=1) for d in ladder]
    assert elapsed == [60, 90, 120, 180, 240, 300, 360, 420, 480]
    assert [d.detail for d in ladder] == ["", "", ""] + [f"{n}/6" for n in range(1, 7)]


@pytest.mark.parametrize(
    ("t0", "local"),
    [
        # Spring: the wall clock jumps 01:00 → 02:00, so three real hours after 00:30 GMT is 04:30 BST.
        ("2026-03-29 00:30", ["02:30 BST", "03:00 BST", "03:30 BST", "04:30 BST"]),
        # Autumn: 01:00–02:00 comes twice; 120 minutes after 00:30 BST is 01:30 GMT, the second 01:30.
        ("2026-10-25 00:30", ["01:30 BST", "01:00 GMT", "01:30 GMT", "02:30 GMT"]),
    ],
)
def test_the_ladder_across_a_clock_change_reads_on_the_wall_clock(t0: str, local: list[str]) -> None:
    ladder = urgent_ladder(at(t0), TIMERS, CONFIG.urgent.settings)[:4]
    assert [d.due.astimezone(LONDON).strftime("%H:%M %Z") for d in ladder] == local


def test_the_repeats_follow_the_configured_interval_and_count() -> None:
    urgent = replace(CONFIG.urgent.settings, repeat_minutes=30, max_repeats=2)
    ladder = urgent_ladder(utc("2026-11-27 19:40"), TIMERS, urgent)
    assert [(d.purpose, d.due, d.detail) for d in ladder[2:]] == [
        ("escalation_120", utc("2026-11-27 21:40"), ""),
        ("escalation_repeat", utc("2026-11-27 22:10"), "1/2"),
        ("escalation_repeat", utc("2026-11-27 22:40"), "2/2"),
    ]
    none = urgent_ladder(utc("2026-11-27 19:40"), TIMERS, replace(urgent, max_repeats=0))
    assert [d.purpose for d in none] == ["escalation_60", "escalation_90", "escalation_120"]


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
