"""The life of a case: ``decide(case, event, now, policy)`` says what an event does to it.

Every state change goes through here, and is checked against ``TRANSITIONS`` here and only
here: an illegal one is an ``IllegalTransition``, never a silent write (issue 11 §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.booking_rules import (
    Booked,
    BookedForMovedFamily,
    NoSlot,
    Rebooked,
    booked,
    booked_for_moved_family,
    no_slot,
    rebooked,
)
from bot.domain.case_commands import COMMANDS, URGENT_SCOPE
from bot.domain.case_states import check_transition
from bot.domain.case_timers import CASE_TIMERS
from bot.domain.circulation import MinutesAttached, minutes_attached, over_refusal
from bot.domain.closing import CloseCheck, close_check
from bot.domain.commands import Command
from bot.domain.deadlines import elapsed, urgent_ladder
from bot.domain.decisions import CaseTimer, CaseView, Decision, Mail, Note, Policy, Role
from bot.domain.emergency import NoSlotInTime, no_slot_in_time
from bot.domain.model import CaseState
from bot.domain.open_cases import OpenCasesFound, UrgentForBookedChild, open_cases_found, urgent_for_booked_child
from bot.domain.purposes import Purpose
from bot.domain.responses import AttendeeAnswered, attendee_answered
from bot.domain.urgent_meeting import MeetingBooked, meeting_booked


@dataclass(frozen=True)
class CommandGiven:
    """A reply in the case's thread carried a command word from someone entitled to send it (§6)."""

    command: Command
    sender: str


@dataclass(frozen=True)
class UrgentOpened:
    """§4.1–4.2: an URGENT S47 ENQUIRY arrived; the clock started at ``t0``."""

    t0: datetime
    missing: tuple[str, ...] = ()  # what is missing, in the words the TM/PM reads
    urgent_indicators: tuple[str, ...] = ()


@dataclass(frozen=True)
class InformationMissing:
    """§2: a request lacks required fields; the sender is asked for exactly those."""

    missing: tuple[str, ...]  # in the words the TM/PM reads
    template_labels: tuple[str, ...]
    fields: tuple[str, ...]  # as named in ``REQUIRED_FIELDS``, for the history
    urgent_indicators: tuple[str, ...] = ()


Event = (
    CommandGiven
    | MinutesAttached
    | CaseTimer
    | UrgentOpened
    | InformationMissing
    | Booked
    | Rebooked
    | BookedForMovedFamily
    | NoSlot
    | NoSlotInTime
    | OpenCasesFound
    | UrgentForBookedChild
    | MeetingBooked
    | CloseCheck
    | AttendeeAnswered
)


def urgent_opened(view: CaseView, event: UrgentOpened, now: datetime, policy: Policy) -> Decision:
    """§4.2: acknowledge to the TM/PM, refer to the duty DS, start the escalation ladder."""
    case = view.case
    timing = {
        "clock_start": event.t0.astimezone(policy.tz),
        "callback_by": elapsed(event.t0, policy.urgent.callback_minutes).astimezone(policy.tz),
        "callback_minutes": policy.urgent.callback_minutes,
        "missing": list(event.missing),
    }
    to = (case.details.requester.email or "",)
    ack = Mail(Purpose.URGENT_ACKNOWLEDGEMENT, to, (), {**timing, "phone": case.details.requester.phone})
    referral_context = {**timing, "details": case.details, "urgent_indicators": list(event.urgent_indicators)}
    referral = Mail(Purpose.DUTY_REFERRAL, (Role.DUTY_DS,), (Role.REFERRAL_UNIT,), referral_context)
    steps = urgent_ladder(event.t0, policy.timers, policy.urgent)
    ladder = tuple(CaseTimer(Purpose(d.purpose), d.due, URGENT_SCOPE, d.detail) for d in steps)
    return Decision(state=CaseState.AWAITING_CONTACT, emails=(ack, referral), set_timers=ladder)


def information_missing(view: CaseView, event: InformationMissing, now: datetime, policy: Policy) -> Decision:
    case = view.case
    context = {
        "missing": list(event.missing),
        "template_labels": list(event.template_labels),
        "kind": case.kind.value,
        "urgent_indicators": list(event.urgent_indicators),
    }
    cc = (Role.REFERRAL_UNIT,) if event.urgent_indicators else ()
    mail = Mail(Purpose.MISSING_INFORMATION, (case.details.requester.email or "",), cc, context)
    return Decision(emails=(mail,), history=(Note("awaiting_information", ", ".join(event.fields)),))


def _decide(view: CaseView, event: Event, now: datetime, policy: Policy) -> Decision:
    match event:
        case CommandGiven(command=command, sender=sender):
            rule = COMMANDS[command.word]
            over = over_refusal(view) if rule.live else None
            return over or rule.decide(view, command, sender, now, policy)
        case MinutesAttached():
            return minutes_attached(view, event, now, policy)
        case CaseTimer():
            return CASE_TIMERS[event.purpose](view, event, policy)
        case UrgentOpened():
            return urgent_opened(view, event, now, policy)
        case InformationMissing():
            return information_missing(view, event, now, policy)
        case Booked():
            return booked(view, event, now, policy)
        case Rebooked():
            return rebooked(view, event, now, policy)
        case BookedForMovedFamily():
            return booked_for_moved_family(view, event, now, policy)
        case NoSlot():
            return no_slot(view, event, now, policy)
        case NoSlotInTime():
            return no_slot_in_time(view, event, now, policy)
        case OpenCasesFound():
            return open_cases_found(view, event, now, policy)
        case UrgentForBookedChild():
            return urgent_for_booked_child(view, event, now, policy)
        case MeetingBooked():
            return meeting_booked(view, event, now, policy)
        case CloseCheck():
            return close_check(view, event, now, policy)
        case AttendeeAnswered():
            return attendee_answered(view, event, now, policy)


def decide(view: CaseView, event: Event, now: datetime, policy: Policy) -> Decision:
    """What ``event`` does to the case in ``view`` at ``now``; raises ``IllegalTransition`` for a
    state change the case's life does not allow."""
    decision = _decide(view, event, now, policy)
    if decision.state is not None and decision.state is not view.case.state:
        check_transition(view.case.state, decision.state)
    return decision
