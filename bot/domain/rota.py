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
    closure_days: frozenset[date]
    bank_holidays_country: str
    bank_holidays_subdivision: str


@dataclass(frozen=True)
class TimerSettings:
    """How long each step of a case may take before the bot chases it (domain.md §4.3, §5)."""

    escalation_first_minutes: int
    escalation_second_minutes: int
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
