"""Booking a STANDARD request: the effective day, the target meeting day, the slot (domain.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import ScheduleConfig
from bot.domain.model import Interval
from bot.domain.working_days import WorkingDays


@dataclass(frozen=True)
class SlotChoice:
    """The slot chosen for a request, and what the timescale check made of it."""

    start: datetime
    end: datetime
    effective_day: date
    target_day: date
    deadline: date  # the discussion should be held by this day (§3.4)
    within_timescale: bool


def effective_referral_day(received: datetime, schedule: ScheduleConfig, days: WorkingDays, tz: ZoneInfo) -> date:
    """§3.1: the day received if a working day and at or before the cut-off, else the next working day."""
    local = received.astimezone(tz)
    day = local.date()
    cutoff = datetime.combine(day, schedule.cutoff, tzinfo=tz)
    if days.is_working_day(day) and local <= cutoff:
        return day
    return days.next_working_day(day)


def target_meeting_day(effective: date, schedule: ScheduleConfig, days: WorkingDays) -> date:
    """§3.2: the first meeting day at least a day after the effective day that is a working day.

    With meeting days Monday, Wednesday and Friday this is the county's table: Monday or
    Tuesday → Wednesday; Wednesday or Thursday → Friday; Friday → the following Monday.
    """
    candidate = effective + timedelta(days=1)
    while candidate.weekday() not in schedule.meeting_days or not days.is_working_day(candidate):
        candidate += timedelta(days=1)
    return candidate


def meeting_days_from(target: date, schedule: ScheduleConfig, days: WorkingDays) -> Iterator[date]:
    """The target day, then later meeting days that are working days, up to the horizon (§3.3)."""
    day, found = target, 0
    while found < schedule.horizon_meeting_days:
        if day.weekday() in schedule.meeting_days and days.is_working_day(day):
            yield day
            found += 1
        day += timedelta(days=1)


def booking_length(complex_case: bool, schedule: ScheduleConfig) -> int:
    """Minutes a discussion takes: one slot, or the longer complex length (two slots by default)."""
    return schedule.complex_minutes if complex_case else schedule.slot_minutes


def first_free_start(
    day: date, minutes: int, busy: Sequence[Interval], schedule: ScheduleConfig, tz: ZoneInfo
) -> datetime | None:
    """§3.3: the earliest grid start whose whole length fits the window and overlaps nothing busy."""
    # Local wall-clock times built per day, so 10:00 is 10:00 on both sides of a clock change.
    window_start = datetime.combine(day, schedule.window_start, tzinfo=tz)
    window_end = datetime.combine(day, schedule.window_end, tzinfo=tz)
    step, length = timedelta(minutes=schedule.slot_minutes), timedelta(minutes=minutes)
    start = window_start
    while start + length <= window_end:
        candidate = Interval(start, start + length)
        if not any(candidate.overlaps(b) for b in busy):
            return start
        start += step
    return None


def choose_slot(
    received: datetime,
    complex_case: bool,
    busy_on: Callable[[date], Sequence[Interval]],
    schedule: ScheduleConfig,
    days: WorkingDays,
    tz: ZoneInfo,
) -> SlotChoice | None:
    """§3.1–3.4 together: the next proper slot for a request, or None past the horizon."""
    effective = effective_referral_day(received, schedule, days, tz)
    target = target_meeting_day(effective, schedule, days)
    minutes = booking_length(complex_case, schedule)
    allowed = schedule.complex_timescale_working_days if complex_case else schedule.timescale_working_days
    deadline = days.add_working_days(effective, allowed)
    for day in meeting_days_from(target, schedule, days):
        start = first_free_start(day, minutes, busy_on(day), schedule, tz)
        if start is not None:
            return SlotChoice(
                start=start,
                end=start + timedelta(minutes=minutes),
                effective_day=effective,
                target_day=target,
                deadline=deadline,
                within_timescale=day <= deadline,
            )
    return None


def next_slot_after(
    current_start: datetime,
    minutes: int,
    busy_on: Callable[[date], Sequence[Interval]],
    schedule: ScheduleConfig,
    days: WorkingDays,
    tz: ZoneInfo,
    same_start_allowed: bool = False,
) -> datetime | None:
    """§6 RESCHEDULE and COMPLEX: the first free start after the current one (or at it, when allowed).

    ``busy_on`` must leave out the booking being moved, so it does not block itself.
    """
    first_day = current_start.astimezone(tz).date()
    for day in meeting_days_from(first_day, schedule, days):
        busy = list(busy_on(day))
        if day == first_day:
            window_start = datetime.combine(day, schedule.window_start, tzinfo=tz)
            # Everything before the current start (and the current start itself, unless
            # allowed) counts as taken on the current day.
            blocked_until = current_start if same_start_allowed else current_start + timedelta(minutes=1)
            if blocked_until > window_start:
                busy.append(Interval(window_start, blocked_until))
        start = first_free_start(day, minutes, busy, schedule, tz)
        if start is not None:
            return start
    return None
