"""When each timer of a case falls due (domain.md §4.3, §5): pure arithmetic on the calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.working_days import WorkingDays


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """``clock`` on ``day`` in ``tz``: 16:00 stays 16:00 across a clock change."""
    return datetime.combine(day, clock, tzinfo=tz)


def previous_working_day(day: date, days: WorkingDays) -> date:
    candidate = day - timedelta(days=1)
    while not days.is_working_day(candidate):
        candidate -= timedelta(days=1)
    return candidate


def day_before_reminder(start: datetime, clock: time, days: WorkingDays, tz: ZoneInfo) -> datetime:
    """§5: at ``clock`` (16:00) on the working day before a booked discussion."""
    return at_local(previous_working_day(start.astimezone(tz).date(), days), clock, tz)


def add_working_time(
    moment: datetime, hours: float, day_start: time, day_end: time, days: WorkingDays, tz: ZoneInfo
) -> datetime:
    """``hours`` of working time after ``moment``; working time is ``day_start``–``day_end`` on working days.

    The minutes of a discussion are due one working day (10 working hours) after it ends
    (issue 3 §5): Monday 10:15 → Tuesday 10:15; Friday 10:15 → Monday 10:15. Time outside
    working hours does not count, so a discussion ending at 19:00 starts counting at 08:00.
    """
    remaining = timedelta(hours=hours)
    local = moment.astimezone(tz)
    day = local.date()
    cursor = local.time()
    while True:
        if days.is_working_day(day):
            begin = max(cursor, day_start)
            if begin < day_end:
                available = datetime.combine(day, day_end) - datetime.combine(day, begin)
                if remaining <= available:
                    return at_local(day, (datetime.combine(day, begin) + remaining).time(), tz)
                remaining -= available
        day += timedelta(days=1)
        cursor = time(0)


def subtract_working_time(
    moment: datetime, hours: float, day_start: time, day_end: time, days: WorkingDays, tz: ZoneInfo
) -> datetime:
    """``hours`` of working time before ``moment`` (the minutes reminder, 4 working hours before)."""
    remaining = timedelta(hours=hours)
    local = moment.astimezone(tz)
    day = local.date()
    cursor = local.time()
    while True:
        if days.is_working_day(day):
            end = min(cursor, day_end)
            if end > day_start:
                available = datetime.combine(day, end) - datetime.combine(day, day_start)
                if remaining <= available:
                    return at_local(day, (datetime.combine(day, end) - remaining).time(), tz)
                remaining -= available
        day -= timedelta(days=1)
        cursor = day_end


def working_day_at(start_day: date, n: int, clock: time, days: WorkingDays, tz: ZoneInfo) -> datetime:
    """``clock`` on the ``n``th working day after ``start_day`` (Section 47 record by day 3; ICPC by day 15)."""
    return at_local(days.add_working_days(start_day, n), clock, tz)
