"""§3.6 attendance: an attendee's answer to the invitation (an iCalendar REPLY, or Outlook's
"Declined: …" mail) is recorded in the case's history; a decline that leaves a quorum role
empty tells the TM/PM (``quorum_at_risk``). Such an answer never opens a case and is never
answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.booking_rules import attendees
from bot.domain.decisions import CaseView, Decision, Mail, Note, Policy
from bot.domain.model import CaseState
from bot.domain.purposes import Purpose
from bot.domain.quorum import ROLE_WORDS, attendance

# The iCalendar PARTSTAT values, as the history records them.
ANSWERS = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}
# A decline matters while the discussion is still to come.
_AHEAD = (CaseState.BOOKED, CaseState.AWAITING_CONTACT, CaseState.CONTACTED)


@dataclass(frozen=True)
class MeetingResponse:
    """What an attendee answered: PARTSTAT (upper case), who (lower case), the event's UID if given."""

    partstat: str
    attendee: str
    uid: str | None = None


@dataclass(frozen=True)
class AttendeeAnswered:
    """The event for ``decide``: the answer, and the attendees who had declined before it."""

    response: MeetingResponse
    declined_before: tuple[str, ...] = ()


def attendee_answered(view: CaseView, event: AttendeeAnswered, now: datetime, policy: Policy) -> Decision:
    """Record the answer; a decline that leaves a quorum role empty warns the TM/PM."""
    answer = ANSWERS.get(event.response.partstat, event.response.partstat.lower() or "answered")
    attendee = event.response.attendee
    note = Note(f"invitation_{answer}", attendee)
    details = view.case.details
    invited, _ = attendees(details, policy.recipient_domains)
    if answer != "declined" or attendee not in invited or view.case.state not in _AHEAD:
        return Decision(history=(note,))
    before = attendance(details, invited, event.declined_before).missing
    after = attendance(details, invited, (*event.declined_before, attendee)).missing
    emptied = [role for role in after if role not in before]
    if not emptied:
        return Decision(history=(note,))
    context: dict[str, object] = {
        "attendee": attendee,
        "emptied": [ROLE_WORDS.get(role, role) for role in emptied],
        "missing": [ROLE_WORDS.get(role, role) for role in after],
        "start": view.booking.start.astimezone(policy.tz) if view.booking else None,
    }
    mail = Mail(Purpose.QUORUM_AT_RISK, (details.requester.email or "",), (), context)
    return Decision(emails=(mail,), history=(note, Note("quorum_at_risk", ", ".join(emptied))))
