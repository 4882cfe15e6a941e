"""Booking a STANDARD request: the effective day, the target meeting day, the slot (domain.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.model import Interval
from bot.domain.rota import Schedule
from bot.domain.working_days import WorkingDays

# Longest run of days searched for the next meeting day before the schedule is declared
# impossible (say, meeting days set to Saturday only): a year and a bit covers any run of
# bank holidays and closure days a real calendar has.
_LONGEST_GAP_DAYS = 400


@dataclass(frozen=True)
class SlotChoice:
    """The slot chosen for a request, and what the timescale check made of it (§3.3, §3.4)."""

    start: datetime
    end: datetime
    effective_day: date
    target_day: date
    deadline: date  # the discussion should be held by this day (§3.4)
    within_timescale: bool


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is UTC:  # already (as the store and the calendar give instants)
        return moment
    # A naive datetime would silently be read as the server's local time: refuse it.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: got {moment.isoformat()}; expected a timezone-aware datetime")
    return moment.astimezone(UTC)


def _is_meeting_day(day: date, schedule: Schedule, days: WorkingDays) -> bool:
    return day.weekday() in schedule.meeting_days and days.is_working_day(day)


def _next_meeting_day(after: date, schedule: Schedule, days: WorkingDays) -> date | None:
    """The first meeting day strictly after ``after`` that is a working day, or None if there is none for a year."""
    day = after
    for _ in range(_LONGEST_GAP_DAYS):
        day += timedelta(days=1)
        if _is_meeting_day(day, schedule, days):
            return day
    return None


def effective_referral_day(received: datetime, schedule: Schedule, days: WorkingDays, tz: ZoneInfo) -> date:
    """§3.1: the day received if a working day and at or before the cut-off, else the next working day.

    The cut-off is London wall-clock time whatever zone ``received`` is in. Fractions of a
    second are dropped: a message stamped 16:00:00.4 arrived "at 16:00:00", as any clock
    a person looks at would show it.
    """
    local = _utc(received, "received").astimezone(tz)
    day = local.date()
    if days.is_working_day(day) and local.time().replace(microsecond=0) <= schedule.cutoff:
        return day
    return days.next_working_day(day)


def target_meeting_day(effective: date, schedule: Schedule, days: WorkingDays) -> date:
    """§3.2: the first meeting day strictly after the effective day that is a working day.

    With the county's meeting days (Monday, Wednesday, Friday) this is exactly its table:
    Monday or Tuesday → Wednesday; Wednesday or Thursday → Friday; Friday → the following
    Monday. A target that is a bank holiday or closure day moves to the next meeting day
    that is a working day. Written for any configured meeting days.
    """
    found = _next_meeting_day(effective, schedule, days)
    if found is None:
        raise ValueError(
            f"no meeting day that is a working day within {_LONGEST_GAP_DAYS} days after {effective.isoformat()}: "
            f"check schedule.meeting_days {schedule.meeting_days} and schedule.closure_days"
        )
    return found


def meeting_days_from(target: date, schedule: Schedule, days: WorkingDays) -> Iterator[date]:
    """§3.3: the target day, then later meeting days that are working days; at most the horizon of them."""
    day: date | None = target if _is_meeting_day(target, schedule, days) else _next_meeting_day(target, schedule, days)
    for _ in range(schedule.horizon_meeting_days):
        if day is None:
            return
        yield day
        day = _next_meeting_day(day, schedule, days)


def booking_length(complex_case: bool, schedule: Schedule) -> int:
    """§3: minutes a discussion takes: one slot, or the complex length (two slots by default)."""
    return schedule.complex_minutes if complex_case else schedule.slot_minutes


def first_free_start(
    day: date, minutes: int, busy: Sequence[Interval], schedule: Schedule, tz: ZoneInfo
) -> datetime | None:
    """§3.3: the earliest start on the slot grid whose whole length fits the window and overlaps nothing busy.

    Busy intervals may be in any zone and off the grid (events made by hand). The answer
    is in ``tz``; None when nothing fits that day.
    """
    if minutes <= 0:
        raise ValueError(f"first_free_start: got minutes={minutes}; expected more than 0")
    # The window is built from the day's own wall-clock times, so 10:00 is 10:00 on both
    # sides of a clock change; overlaps are then compared in UTC, because comparing two
    # datetimes that share a tzinfo compares wall-clock readings, not instants.
    window_start = datetime.combine(day, schedule.window_start, tzinfo=tz).astimezone(UTC)
    window_end = datetime.combine(day, schedule.window_end, tzinfo=tz).astimezone(UTC)
    # A start clashes when a busy interval begins before its end and ends after it: that is, when the
    # latest end among the intervals beginning before its end is after it. Starts only grow, so the
    # intervals (by beginning) are taken in once each, keeping that latest end.
    taken = sorted((_utc(b.start, "busy start"), _utc(b.end, "busy end")) for b in busy)
    step, length = timedelta(minutes=schedule.slot_minutes), timedelta(minutes=minutes)
    start = window_start
    next_taken, latest_end = 0, None
    while start + length <= window_end:
        end = start + length
        while next_taken < len(taken) and taken[next_taken][0] < end:
            b_end = taken[next_taken][1]
            if latest_end is None or b_end > latest_end:
                latest_end = b_end
            next_taken += 1
        if latest_end is None or latest_end <= start:
            return start.astimezone(tz)
        start += step
    return None


def _end(start: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    # Elapsed minutes, counted in UTC: the one correct way even on a clock-change day.
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz)


def choose_slot(
    received: datetime,
    complex_case: bool,
    busy_on: Callable[[date], Sequence[Interval]],
    schedule: Schedule,
    days: WorkingDays,
    tz: ZoneInfo,
    *,
    not_before: datetime | None = None,
    deadline: date | None = None,
) -> SlotChoice | None:
    """§3.1–3.4 together: the slot for a request, or None past the horizon (the case goes to a person).

    ``busy_on(day)`` gives every busy interval on a meeting day, bookings made by hand
    included. ``not_before`` (usually now) matters only when a request is handled late,
    after an outage: meeting days up to and including that day are passed over, so nothing
    is booked in the past or at a few minutes' notice; the horizon still counts from the
    target day. The timescale check is on the day of the slot found (§3.4).

    ``deadline`` is a hard one (emergency action taken, §3.4): it replaces the timescale and
    no later day is booked, so None then means no slot is free in time. The search then starts
    at the first meeting day after the day received, cut-off or not: the cut-off's extra day of
    police research would otherwise carry a Friday-evening or Tuesday-evening request past a
    free rota slot that meets the deadline.
    """
    effective = effective_referral_day(received, schedule, days, tz)
    if deadline is None:
        target = target_meeting_day(effective, schedule, days)
    else:
        target = target_meeting_day(_utc(received, "received").astimezone(tz).date(), schedule, days)
    minutes = booking_length(complex_case, schedule)
    allowed = schedule.complex_timescale_working_days if complex_case else schedule.timescale_working_days
    hard = deadline is not None
    if deadline is None:
        deadline = days.add_working_days(effective, allowed)
    too_early = _utc(not_before, "not_before").astimezone(tz).date() if not_before is not None else None
    for day in meeting_days_from(target, schedule, days):
        if hard and day > deadline:
            return None
        if too_early is not None and day <= too_early:
            continue
        start = first_free_start(day, minutes, busy_on(day), schedule, tz)
        if start is not None:
            return SlotChoice(
                start=start,
                end=_end(start, minutes, tz),
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
    schedule: Schedule,
    days: WorkingDays,
    tz: ZoneInfo,
    same_start_allowed: bool = False,
) -> datetime | None:
    """§6 RESCHEDULE and COMPLEX: the first free start after the current one (or at it, when allowed).

    ``busy_on`` must leave out the booking being moved, so it does not block itself. The
    search runs over the horizon of meeting days counted from the current day.
    """
    first_day = _utc(current_start, "current_start").astimezone(tz).date()
    for day in meeting_days_from(first_day, schedule, days):
        busy = list(busy_on(day))
        if day == first_day:
            window_start = datetime.combine(day, schedule.window_start, tzinfo=tz)
            # Everything before the current start (and the current start itself, unless
            # allowed) counts as taken on the current day.
            blocked_until = current_start if same_start_allowed else current_start + timedelta(minutes=1)
            if _utc(blocked_until, "current_start") > window_start.astimezone(UTC):
                busy.append(Interval(window_start, blocked_until))
        start = first_free_start(day, minutes, busy, schedule, tz)
        if start is not None:
            return start
    return None
