"""When each timer of a case falls due (domain.md §4.3, §5): pure arithmetic on the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.rota import Schedule, TimerSettings, UrgentSettings
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


@dataclass(frozen=True)
class Deadline:
    """A timer to set: its purpose (the email it sends), when, and what tells it apart."""

    purpose: str
    due: datetime
    detail: str = ""


def elapsed(t0: datetime, minutes: int) -> datetime:
    """``minutes`` of real time after ``t0``, in UTC.

    Adding to a Europe/London datetime would add wall-clock time: across the spring change
    the 60-minute escalation of a case opened at 00:30 would come at 02:30 BST, two real hours later.
    """
    return t0.astimezone(UTC) + timedelta(minutes=minutes)


def minutes_between(t0: datetime, moment: datetime) -> int:
    """Whole real minutes from ``t0`` to ``moment`` (compared in UTC for the same reason)."""
    return int((moment.astimezone(UTC) - t0.astimezone(UTC)).total_seconds() // 60)


def repeat_detail(n: int, of: int) -> str:
    """What tells one ``escalation_repeat`` apart, and what its email says: ``"3/6"``, the third of six."""
    return f"{n}/{of}"


def repeat_number(detail: str) -> tuple[int, int]:
    n, _, of = detail.partition("/")
    return int(n), int(of or n)


def urgent_ladder(t0: datetime, timers: TimerSettings, urgent: UrgentSettings) -> list[Deadline]:
    """§4.3: real elapsed minutes from t0, at any hour: 60 to the TM/PM, 90 to Admin Support, 120 to the
    MASH Service Manager, then a repeat every ``repeat_minutes``, ``max_repeats`` times.

    Every step is set at once, so that ``CONTACTED`` stops them all and a restart finds them
    pending; each repeat's detail is its number, so the six are six timers.
    """
    third = timers.escalation_third_minutes
    return [
        Deadline("escalation_60", elapsed(t0, timers.escalation_first_minutes)),
        Deadline("escalation_90", elapsed(t0, timers.escalation_second_minutes)),
        Deadline("escalation_120", elapsed(t0, third)),
        *(
            Deadline(
                "escalation_repeat",
                elapsed(t0, third + n * urgent.repeat_minutes),
                repeat_detail(n, urgent.max_repeats),
            )
            for n in range(1, urgent.max_repeats + 1)
        ),
    ]


def minutes_deadlines(ended: datetime, timers: TimerSettings, days: WorkingDays, tz: ZoneInfo) -> list[Deadline]:
    """§5: minutes due one working day (10 working hours) after the discussion ends; reminder 4 before."""
    start, end = timers.working_day_start, timers.working_day_end
    due = add_working_time(ended, timers.minutes_due_working_hours, start, end, days, tz)
    reminder = subtract_working_time(due, timers.minutes_reminder_working_hours, start, end, days, tz)
    return [Deadline("minutes_reminder", reminder), Deadline("minutes_overdue", due)]


def booking_deadlines(
    start: datetime, end: datetime, timers: TimerSettings, days: WorkingDays, tz: ZoneInfo
) -> list[Deadline]:
    """§5: reminders the working day before and 30 minutes before; the minutes pack at the start; minutes due."""
    return [
        Deadline("reminder_day_before", day_before_reminder(start, timers.reminder_day_before_time, days, tz)),
        Deadline("reminder_30_min", start - timedelta(minutes=timers.reminder_minutes_before)),
        Deadline("minutes_template", start),
        *minutes_deadlines(end, timers, days, tz),
    ]


def outcome_deadlines(discussion_day: date, timers: TimerSettings, days: WorkingDays, tz: ZoneInfo) -> list[Deadline]:
    """§5: after a joint or single S47 outcome: the S47 record by day 3; the ICPC by day 15, warned on day 10."""
    clock = timers.later_timescales_time
    return [
        Deadline("s47_outcome_due", working_day_at(discussion_day, timers.s47_outcome_working_days, clock, days, tz)),
        Deadline(
            "icpc_due",
            working_day_at(discussion_day, timers.icpc_warning_working_days, clock, days, tz),
            str(timers.icpc_due_working_days - timers.icpc_warning_working_days),
        ),
        Deadline("icpc_due", working_day_at(discussion_day, timers.icpc_due_working_days, clock, days, tz), "0"),
    ]


def next_agenda(
    after: datetime, schedule: Schedule, timers: TimerSettings, days: WorkingDays, tz: ZoneInfo
) -> datetime:
    """§5: the next daily agenda: 09:00 on the next meeting day that is a working day, after ``after``."""
    day = after.astimezone(tz).date()
    while True:
        if day.weekday() in schedule.meeting_days and days.is_working_day(day):
            moment = at_local(day, timers.daily_agenda_time, tz)
            if moment > after:
                return moment
        day += timedelta(days=1)
