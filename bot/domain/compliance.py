"""The compliance record (domain.md §5): per case, the instants its timescales are measured on.

One pure function reads a case as the store holds it (the case, its booking, its history and
its timers) and says when each timescale fell due and when what it measures happened. The
service rewrites the record in the same transaction as every change to the case; the report
(``bot.domain.compliance_figures``) only compares the instants it holds. Each due instant comes
from the rule that sets the bot's own deadline for it, never from a second copy of the rule:
the discussion's from the slot rules (§3.4) and the emergency deadline, the call-back's from
the urgent clock (§4.3), the minutes', the Section 47 record's and the ICPC's from the timers
the bot set for them (``bot.domain.deadlines``). N numbers and case ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.domain.booking_rules import timescale_days
from bot.domain.deadlines import at_local
from bot.domain.decisions import Policy
from bot.domain.emergency import emergency_deadline
from bot.domain.model import Booking, Case, Kind
from bot.domain.purposes import Outcome, Purpose
from bot.domain.records import HistoryEntry, TimerRow
from bot.domain.slots import effective_referral_day
from bot.domain.urgent_clock import callback_due

# The history lines that record what a timescale measures; ``s47_recorded`` and ``icpc_held`` are
# written by the replies ``S47 RECORDED`` and ``ICPC HELD``.
CONTACTED = "contacted"
HELD = "held"
MINUTES_RECORDED = "minutes_recorded"
OUTCOME = "outcome"
S47_RECORDED = "s47_recorded"
ICPC_HELD = "icpc_held"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class ComplianceRecord:
    """One case's instants (all aware, UTC) and when each timescale fell due."""

    case_id: str
    kind: str
    state: str
    n_numbers: tuple[str, ...]
    received_at: datetime
    updated_at: datetime
    complex: bool = False
    emergency: bool = False
    clock_start: datetime | None = None
    effective_day: date | None = None
    discussion_due: datetime | None = None  # the end of the last day the discussion may be held on
    callback_due: datetime | None = None
    booked_start: datetime | None = None
    booked_end: datetime | None = None
    contacted_at: datetime | None = None
    meeting_at: datetime | None = None  # the discussion: the booked start, else when HELD was recorded
    held_at: datetime | None = None
    minutes_due: datetime | None = None
    minutes_recorded_at: datetime | None = None
    outcome: str | None = None
    outcome_at: datetime | None = None
    s47_due: datetime | None = None
    s47_recorded_at: datetime | None = None
    icpc_due: datetime | None = None
    icpc_held_at: datetime | None = None
    cancelled_at: datetime | None = None


def _first(history: Sequence[HistoryEntry], action: str) -> datetime | None:
    return next((h.at for h in history if h.action == action), None)


def _last(history: Sequence[HistoryEntry], action: str) -> HistoryEntry | None:
    found = [h for h in history if h.action == action]
    return found[-1] if found else None


def _timer_due(timers: Sequence[TimerRow], purpose: Purpose, detail: str | None = None) -> datetime | None:
    """The due instant of the latest such timer the bot set (a moved booking's replace the old)."""
    found = [t for t in timers if t.purpose == purpose and (detail is None or t.detail == detail)]
    return max(found, key=lambda t: t.id).due_at if found else None


def _end_of(day: date, policy: Policy) -> datetime:
    return at_local(day + timedelta(days=1), time(0), policy.tz)


def discussion_deadline(case: Case, policy: Policy) -> date | None:
    """§3.4: the last day the discussion may be held on: 3 working days after the effective day (5 when
    complex), or 1 after emergency action; None for an urgent case (held the same day, §4.4)."""
    if case.kind is not Kind.STANDARD:
        return None
    action = case.details.emergency_action
    if action is not None:
        return emergency_deadline(action, case.received_at, policy.schedule, policy.days, policy.tz)
    effective = _effective_day(case, policy)
    return policy.days.add_working_days(effective, timescale_days(case, policy))


def _effective_day(case: Case, policy: Policy) -> date:
    if case.effective_day:
        return date.fromisoformat(case.effective_day)
    return effective_referral_day(case.received_at, policy.schedule, policy.days, policy.tz)


def compliance_record(
    case: Case,
    booking: Booking | None,
    history: Sequence[HistoryEntry],
    timers: Sequence[TimerRow],
    policy: Policy,
    now: datetime,
) -> ComplianceRecord:
    """The case's compliance record as it stands at ``now``, from what the store holds of it."""
    booked = booking if booking is not None and booking.status == "booked" else None
    held = _first(history, HELD)
    outcome = _last(history, OUTCOME)
    section_47 = outcome is not None and outcome.detail in (Outcome.JOINT_S47, Outcome.SINGLE_S47)
    deadline = discussion_deadline(case, policy)
    clock_start = case.clock_start if case.kind is Kind.URGENT else None
    minutes = _first(history, MINUTES_RECORDED)
    return ComplianceRecord(
        case_id=case.case_id,
        kind=str(case.kind),
        state=str(case.state),
        n_numbers=case.details.n_numbers,
        received_at=case.received_at,
        updated_at=now,
        complex=case.details.complex,
        emergency=case.details.emergency_action is not None,
        clock_start=clock_start,
        effective_day=_effective_day(case, policy) if case.kind is Kind.STANDARD else None,
        discussion_due=_end_of(deadline, policy) if deadline is not None else None,
        callback_due=callback_due(clock_start, policy.urgent.callback_minutes) if clock_start else None,
        booked_start=booked.start if booked else None,
        booked_end=booked.end if booked else None,
        contacted_at=_first(history, CONTACTED),
        meeting_at=booked.start if booked else held,
        held_at=held,
        minutes_due=_timer_due(timers, Purpose.MINUTES_OVERDUE),
        minutes_recorded_at=minutes,
        outcome=outcome.detail if outcome else None,
        outcome_at=outcome.at if outcome else None,
        s47_due=_timer_due(timers, Purpose.S47_OUTCOME_DUE) if section_47 else None,
        s47_recorded_at=_first(history, S47_RECORDED),
        icpc_due=_timer_due(timers, Purpose.ICPC_DUE, "0") if section_47 else None,
        icpc_held_at=_first(history, ICPC_HELD),
        cancelled_at=_first(history, CANCELLED),
    )
