"""The reply commands of domain.md §6, one rule each: who may send it, what it does, its help text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.case_states import can_move
from bot.domain.circulation import outcome, over_refusal, refused
from bot.domain.commands import Command
from bot.domain.deadlines import minutes_deadlines
from bot.domain.decisions import (
    NOT_APPLICABLE,
    CancelBooking,
    CaseTimer,
    CaseView,
    Decision,
    Move,
    Note,
    Overrun,
    Policy,
    TimersToCancel,
)
from bot.domain.mobile_families import family_moved
from bot.domain.model import CaseState, Kind
from bot.domain.purposes import LADDER, MINUTES_CHASE, Outcome, Purpose
from bot.domain.review import further, review
from bot.domain.trust import domain_allowed
from bot.domain.urgent_meeting import HELD_CHASE, contacted

S = CaseState

# The scopes of timers that belong to no booking.
URGENT_SCOPE = "urgent"


def held(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    """§5: the discussion took place. A meeting arranged by phone (urgent, or after emergency action
    with no rota slot in time) starts its minutes clock now; a booked one's was set at booking."""
    case = view.case
    if not can_move(case.state, S.HELD):
        return NOT_APPLICABLE
    timers: tuple[CaseTimer, ...] = ()
    if case.kind is Kind.URGENT or case.state in (S.AWAITING_CONTACT, S.CONTACTED):
        deadlines = minutes_deadlines(now, policy.timers, policy.days, policy.tz)
        timers = tuple(CaseTimer(Purpose(d.purpose), d.due, URGENT_SCOPE) for d in deadlines)
    stop = (TimersToCancel(LADDER), TimersToCancel(HELD_CHASE))
    return Decision(state=S.HELD, cancel_timers=stop, set_timers=timers, history=(Note("held"),))


def cancel(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    if not can_move(view.case.state, S.CANCELLED):
        return NOT_APPLICABLE
    return Decision(
        state=S.CANCELLED,
        cancel_timers=(TimersToCancel(),),
        history=(Note("cancelled"),),
        change=CancelBooking(sender) if view.booking is not None else None,
    )


def move(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    if view.booking is None or view.case.state is not S.BOOKED:
        return NOT_APPLICABLE
    return Decision(change=Move(make_complex=command.word == "COMPLEX"))


def delay(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    return Decision(change=Overrun(command.minutes or 0))


def minutes_recorded(view: CaseView, how: str) -> Decision:
    """§5: the minutes are in; their chase stops."""
    stopped = len(view.pending_of(MINUTES_CHASE))
    return Decision(
        cancel_timers=(TimersToCancel(MINUTES_CHASE),),
        history=(Note("minutes_recorded", f"{how}; {stopped} reminder(s) stopped"),),
    )


def minutes_shared(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    return minutes_recorded(view, "MINUTES SHARED")


def _after_section_47(view: CaseView, word: str, purpose: Purpose, action: str) -> Decision:
    """The Section 47 record or the conference done (issue 14): its timescale measured, its reminders stop."""
    refusal = over_refusal(view)
    if refusal is not None:
        return refusal
    if view.outcome is None or not Outcome(view.outcome).is_section_47:
        return refused(f"{word} applies once OUTCOME joint S47 or OUTCOME single S47 is recorded for the case.")
    return Decision(cancel_timers=(TimersToCancel(frozenset({purpose})),), history=(Note(action),))


def s47_recorded(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    return _after_section_47(view, "S47 RECORDED", Purpose.S47_OUTCOME_DUE, "s47_recorded")


def icpc_held(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    return _after_section_47(view, "ICPC HELD", Purpose.ICPC_DUE, "icpc_held")


CommandRule = Callable[[CaseView, Command, str, datetime, Policy], Decision]


@dataclass(frozen=True)
class ReplyCommand:
    """One word staff may put on the first line of a reply (§6)."""

    usage: str  # as the help shows it
    meaning: str
    decide: CommandRule
    police_only: bool = False
    # Needs a live case: on a cancelled or closed one it is refused with the reason (§6).
    live: bool = True


# Word → rule, in the order the help lists them; ``command_help`` is rendered from this table.
COMMANDS: dict[str, ReplyCommand] = {
    "CONTACTED": ReplyCommand(
        "CONTACTED",
        "police have rung the TM/PM: stops the urgent escalation reminders and sends the minutes template",
        contacted,
    ),
    "HELD": ReplyCommand("HELD", "the discussion took place: starts the one-working-day clock for the minutes", held),
    "CANCEL": ReplyCommand("CANCEL", "cancels the booking, frees the slot and tells everyone invited", cancel),
    "RESCHEDULE": ReplyCommand("RESCHEDULE", "moves the booking to the next free slot after the current one", move),
    "COMPLEX": ReplyCommand("COMPLEX", "makes the booking 30 minutes (moved if the next slot is taken)", move),
    "DELAY": ReplyCommand(
        "DELAY <minutes>",
        "police: the discussions are running late; warns every TM/PM booked later that day",
        delay,
        police_only=True,
        live=False,
    ),
    "MINUTES SHARED": ReplyCommand(
        "MINUTES SHARED",
        "the minutes have gone to everyone who took part; or attach them (.docx, .odt, .pdf, .doc or .rtf) "
        "to a reply and the bot sends them on to everyone invited",
        minutes_shared,
    ),
    "OUTCOME": ReplyCommand(
        "OUTCOME <" + " | ".join(o.value for o in Outcome) + ">",
        "records the outcome and sends it to everyone invited; a later OUTCOME replaces it; an S47 outcome sets "
        "the Section 47 record and conference timescales",
        outcome,
    ),
    "REVIEW": ReplyCommand(
        "REVIEW <date>",
        "records the date set for reviewing the agreed actions (REVIEW 14/12 or REVIEW 14 Dec); "
        "everyone invited is reminded at 16:00 the working day before",
        review,
    ),
    "FURTHER": ReplyCommand(
        "FURTHER",
        "books a further discussion for the same children, as a new case linked to this one",
        further,
    ),
    "S47 RECORDED": ReplyCommand(
        "S47 RECORDED",
        "after an S47 outcome: the Section 47 record outcome is done; its day-3 reminder stops",
        s47_recorded,
    ),
    "ICPC HELD": ReplyCommand(
        "ICPC HELD",
        "after an S47 outcome: the initial child protection conference took place; its reminders stop",
        icpc_held,
    ),
    "MOVED": ReplyCommand(
        "MOVED <email>",
        "the family has moved during the enquiry: books a new discussion within 72 hours with the receiving "
        "authority at that address",
        family_moved,
    ),
}


def entitled(word: str, sender: str, requester: str | None, police_domain: str) -> bool:
    """§6: words are accepted from the requester and from police; police-only words from police only.

    ``word`` empty: a reply with no command word (one that supplies missing details).
    """
    police = domain_allowed(sender, (police_domain,))
    rule = COMMANDS.get(word)
    if rule is not None and rule.police_only:
        return police
    return police or (requester is not None and sender.lower() == requester.lower())


def who_may(word: str) -> str:
    rule = COMMANDS.get(word)
    return "police" if rule is not None and rule.police_only else "the requesting manager or police"
