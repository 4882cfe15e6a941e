"""The policy values the rules work from: when strategy meetings run and when each timer falls due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time


@dataclass(frozen=True)
class Schedule:
    """When meetings run and how soon a request must be discussed (domain.md §3)."""

    meeting_days: tuple[int, ...]  # Monday == 0
    window_start: time
    window_end: time
    slot_minutes: int
    complex_minutes: int
    cutoff: time
    horizon_meeting_days: int
    timescale_working_days: int
    complex_timescale_working_days: int
    emergency_timescale_working_days: int  # after an EPO or police protection (§3.4)
    closure_days: frozenset[date]
    bank_holidays_country: str
    bank_holidays_subdivision: str


@dataclass(frozen=True)
class UrgentSettings:
    """The urgent route's own numbers (domain.md §4): the call-back, the repeated escalation, the meeting."""

    callback_minutes: int
    repeat_minutes: int  # escalation_repeat every this many minutes after escalation_120...
    max_repeats: int  # ...at most this many times
    meeting_minutes: int  # the urgent meeting's length in the strategy calendar


@dataclass(frozen=True)
class TimerSettings:
    """How long each step of a case may take before the bot chases it (domain.md §4.3, §5)."""

    escalation_first_minutes: int
    escalation_second_minutes: int
    escalation_third_minutes: int
    reminder_day_before_time: time
    reminder_minutes_before: int
    daily_agenda_time: time
    working_day_start: time
    working_day_end: time
    minutes_due_working_hours: float
    minutes_reminder_working_hours: float
    later_timescales_time: time
    s47_outcome_working_days: int
    icpc_warning_working_days: int
    icpc_due_working_days: int
    mobile_family_hours: int
    late_after_seconds: int
    held_chase_hours: int  # the urgent meeting not recorded as held this long after its time (§4.6)
    held_chase_day_end: time  # ...or by this time on the day of contact when no time was given
    held_chase_next_day_time: time  # and again at this time on the next working day
