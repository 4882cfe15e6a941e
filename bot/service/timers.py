"""A timer due: fired once, in one unit of work, by the rule its purpose names (domain.md §4.3, §5)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from bot.domain.decisions import CaseTimer
from bot.domain.purposes import Purpose
from bot.domain.records import TimerRow
from bot.service.handled import Handled
from bot.service.unit import Unit

log = logging.getLogger("bot.service")


def fire(unit: Unit, timer: TimerRow) -> bool:
    """Send what a due timer stands for; False when its case no longer needs it."""
    purpose = Purpose(timer.purpose)
    if purpose is Purpose.DAILY_AGENDA:
        daily_agenda(unit, timer.due_at)
        return True
    if purpose is Purpose.COMPLIANCE_REPORT:
        from bot.service.weekly_report import weekly_report

        weekly_report(unit, timer.due_at)
        return True
    case = unit.tx.case(timer.case_id) if timer.case_id else None
    if case is None:
        return False
    # These say when the discussion was held or police rang, which only the history knows.
    history = purpose in (Purpose.S47_OUTCOME_DUE, Purpose.ICPC_DUE, Purpose.HELD_CHASE)
    _, decision = unit.decide(case, CaseTimer(purpose, timer.due_at, timer.scope, timer.detail), with_history=history)
    if decision.needed and purpose in (Purpose.ESCALATION_60, Purpose.ESCALATION_90):
        log.warning("case %s: %s sent, no police contact recorded", case.case_id, purpose)
    return decision.needed


def note_fired(unit: Unit, timer: TimerRow, sent: bool, late: bool) -> None:
    case = unit.tx.case(timer.case_id) if timer.case_id else None
    lateness = f" late by {int((unit.now - timer.due_at).total_seconds() // 60)} min" if late else ""
    unit.note(case, "timer_fired" if sent else "timer_not_needed", f"{timer.purpose}{lateness}")


def agenda_key(day: date) -> str:
    """What names a day's agenda: its timer's key and its email's Message-ID are made from it."""
    return f"agenda:{day.isoformat()}"


def daily_agenda(unit: Unit, due: datetime) -> None:
    """§5: the day's discussions for the referral unit: time, N numbers, TM/PM and phone, complex."""
    tz = unit.setup.tz
    day = due.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz)
    entries = []
    for booking in unit.tx.bookings_between(start, start + timedelta(days=1)):
        case = unit.tx.case(booking.case_id)
        if case is None:
            continue
        entries.append(
            SimpleNamespace(
                start=booking.start.astimezone(tz),
                end=booking.end.astimezone(tz),
                n_numbers=", ".join(case.details.n_numbers),
                case_id=case.case_id,
                requester_name=case.details.requester.name,
                requester_role=case.details.requester.role,
                phone=case.details.requester.phone,
                complex=case.details.complex,
            )
        )
    to = (unit.config.people.referral_unit,)
    unit.send(Purpose.DAILY_AGENDA, None, to, (), {"day": day, "entries": entries}, key=agenda_key(day))


def fired_result(timer: TimerRow, late: bool) -> Handled:
    return Handled(f"timer:{timer.key}", "timer", "processed", timer.case_id, timer.purpose, late=late)
