"""§3.6 attendance: an attendee's Accepted / Declined answer recorded in its case (never answered)."""

from __future__ import annotations

from bot.domain.model import Case
from bot.domain.n_numbers import find_n_numbers
from bot.domain.responses import AttendeeAnswered
from bot.mail.reading import MessageReading
from bot.service.unit import Unit


def record_answer(unit: Unit, reading: MessageReading) -> Case | None:
    """Record the answer in the case it is about; returns that case, or None when none is found."""
    response = reading.meeting_response
    if response is None:
        return None
    case = _case_answered(unit, reading)
    if case is None:
        return None
    latest: dict[str, str] = {}
    for entry in unit.tx.history(case.case_id):
        if entry.action.startswith("invitation_"):
            latest[entry.detail] = entry.action
    declined = tuple(who for who, action in latest.items() if action == "invitation_declined")
    unit.decide(case, AttendeeAnswered(response, declined))
    return case


def _case_answered(unit: Unit, reading: MessageReading) -> Case | None:
    """The case whose invitation was answered: by the thread, the event's UID, or the subject's N numbers."""
    tx = unit.tx
    case = tx.case_for_thread(list(reading.thread_references))
    uid = reading.meeting_response.uid if reading.meeting_response else None
    if case is None and uid:
        local = uid.split("@", 1)[0]
        case = next((c for c in tx.cases_for(local) if c.case_id == local), None)
    if case is None:
        numbers = find_n_numbers(reading.subject)
        case = tx.open_case_with_n_number(numbers) if numbers else None
    return case
