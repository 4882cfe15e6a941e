"""Emergency action already taken (an EPO, police protection): the one-working-day timescale (domain.md §2, §3.4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.decisions import CaseView, Decision, Mail, Note, Policy, Role
from bot.domain.model import CaseState, EmergencyAction
from bot.domain.purposes import Purpose
from bot.domain.rota import Schedule
from bot.domain.slots import effective_referral_day
from bot.domain.working_days import WorkingDays

# 002 §3: after emergency action the discussion is held within one working day of it.

EPO = "EPO"
POLICE_PROTECTION = "police protection"
UNNAMED = "emergency action"

_EPO = re.compile(r"\bepo\b|emergency\s+protection", re.I)
_POLICE = re.compile(r"police\s+protection|\bppo?\b|\bs\.?\s*46\b|section\s+46", re.I)
_NONE = re.compile(r"^\W*(no|none|nil|n\s*/?\s*a|not\s+applicable|not\s+known|unknown|tbc)\b", re.I)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{4}|\d{2}))?\b")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?", re.I)
_RELATIVE = re.compile(r"\b(today|this\s+(?:morning|afternoon|evening)|tonight|yesterday|last\s+night)\b", re.I)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\s*(am|pm)?(?!\d)", re.I)
_HOUR = re.compile(r"\b(1[0-2]|0?[1-9])\s*(am|pm)\b", re.I)
# A date read without its year is the latest such date not more than this far after the
# request was sent: "30 Dec" written on 2 January is the December just gone.
_YEAR_SLACK = timedelta(days=31)


def read_emergency_action(label: str, value: str, sent: date | None) -> EmergencyAction | None:
    """What the field says was done and when, or None when it says none was taken.

    ``label`` may itself name the action (``EPO:``, ``Police protection:``); ``sent`` is the
    day the request was written, for "yesterday" and dates given without a year. A date that
    cannot be made out leaves ``day`` None: the time the request was received stands in.
    """
    value = " ".join(value.split())
    if not value or _NONE.match(value):
        return None
    taken = _what(value) or _what(label) or UNNAMED
    day, rest = _day_in(value, sent)
    return EmergencyAction(taken=taken, day=day, time_of_day=_time_in(rest))


def _what(text: str) -> str | None:
    if _EPO.search(text):
        return EPO
    if _POLICE.search(text):
        return POLICE_PROTECTION
    return None


def _day_in(value: str, sent: date | None) -> tuple[date | None, str]:
    """The day named in ``value`` and the text left once it is taken out (where a time may be)."""
    for pattern in (_NUMERIC_DATE, _DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(value):
            day = _date_of(pattern, match, sent)
            if day is not None:
                return day, value[: match.start()] + " " + value[match.end() :]
    relative = _RELATIVE.search(value)
    if relative and sent is not None:
        back = 1 if relative.group(1).lower() in ("yesterday", "last night") else 0
        return sent - timedelta(days=back), value
    return None, value


def _date_of(pattern: re.Pattern[str], match: re.Match[str], sent: date | None) -> date | None:
    if pattern is _NUMERIC_DATE:
        day_text, month_text, year_text = match.group(1), match.group(2), match.group(3)
        month = int(month_text)
    elif pattern is _DAY_MONTH:
        day_text, month, year_text = match.group(1), _MONTHS.index(match.group(2).lower()[:3]) + 1, match.group(3)
    else:
        month, day_text, year_text = _MONTHS.index(match.group(1).lower()[:3]) + 1, match.group(2), match.group(3)
    try:
        if year_text:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            return date(year, month, int(day_text))
        if sent is None:
            return None
        found = date(sent.year, month, int(day_text))
        return found if found <= sent + _YEAR_SLACK else date(sent.year - 1, month, int(day_text))
    except ValueError:
        return None


def _time_in(text: str) -> time | None:
    clock = _CLOCK.search(text)
    if clock:
        hour, minute, half = int(clock.group(1)), int(clock.group(2)), (clock.group(3) or "").lower()
    else:
        bare = _HOUR.search(text)
        if bare is None:
            return None
        hour, minute, half = int(bare.group(1)), 0, bare.group(2).lower()
    if half and hour > 12:
        return None
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    return time(hour, minute)


def action_day(action: EmergencyAction, received: datetime, tz: ZoneInfo) -> date:
    """The day the action was taken: as the request says, never after it was received; else the day received."""
    day_received = received.astimezone(tz).date()
    return min(action.day, day_received) if action.day is not None else day_received


def emergency_deadline(
    action: EmergencyAction, received: datetime, schedule: Schedule, days: WorkingDays, tz: ZoneInfo
) -> date:
    """§3.4: the last day the discussion may be held on: one working day (by default) after the action."""
    return days.add_working_days(action_day(action, received, tz), schedule.emergency_timescale_working_days)


@dataclass(frozen=True)
class NoSlotInTime:
    """§3.4: emergency action was taken and no rota slot is free by ``deadline``: nothing is booked."""

    action: EmergencyAction
    action_day: date
    deadline: date
    effective_day: date


def none_in_time(
    action: EmergencyAction, received: datetime, schedule: Schedule, days: WorkingDays, tz: ZoneInfo
) -> NoSlotInTime:
    """The event for a request whose emergency deadline no rota slot meets."""
    return NoSlotInTime(
        action,
        action_day(action, received, tz),
        emergency_deadline(action, received, schedule, days, tz),
        effective_referral_day(received, schedule, days, tz),
    )


def no_slot_in_time(view: CaseView, event: NoSlotInTime, now: datetime, policy: Policy) -> Decision:
    """The referral unit and the TM/PM told at once to arrange it outside the rota; the case waits for
    ``CONTACTED <time>`` as an urgent one does."""
    case, action = view.case, event.action
    context = {
        "taken": action.taken,
        "action_day": event.action_day,
        "action_time": action.time_of_day.strftime("%H:%M") if action.time_of_day else None,
        "action_stated": action.day is not None,
        "deadline": event.deadline,
        "working_days": policy.schedule.emergency_timescale_working_days,
    }
    mail = Mail(Purpose.EMERGENCY_ACTION_NOTICE, (Role.REFERRAL_UNIT,), (case.details.requester.email or "",), context)
    detail = f"{action.taken}; no rota slot by {event.deadline.isoformat()}: to be arranged outside the rota"
    return Decision(
        state=CaseState.AWAITING_CONTACT,
        effective_day=event.effective_day,
        emails=(mail,),
        history=(Note("emergency_action", detail),),
    )
