"""§5 Minutes and outcome circulated by the bot, and commands refused on a case that is over.

The minutes a TM/PM or police attach to a reply go on, unchanged, to everyone invited; the
outcome of ``OUTCOME`` goes at once to everyone invited (002 §5: "immediately circulate copies
to those who attended or were invited"), and a later one replaces it, stopping the timers it
no longer needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.booking_rules import attendees
from bot.domain.commands import Command
from bot.domain.deadlines import outcome_deadlines
from bot.domain.decisions import CaseTimer, CaseView, Decision, Mail, Note, Policy, Role, TimersToCancel
from bot.domain.model import Attachment, CaseState
from bot.domain.purposes import MINUTES_CHASE, Outcome, Purpose

# The scope of the later timescales' timers (the first outcome's; a replacement's carries its time).
OUTCOME_SCOPE = "outcome"
OUTCOME_TIMERS = frozenset({Purpose.S47_OUTCOME_DUE, Purpose.ICPC_DUE})
# The kinds of file minutes are written in; anything else is not sent on.
MINUTES_SUFFIXES = (".docx", ".odt", ".pdf", ".doc", ".rtf")
# A case that is over: no command that needs a live case applies to it.
OVER = (CaseState.CANCELLED, CaseState.CLOSED)
# Who is copied on what the bot circulates: the police side of the discussion.
POLICE_COPY = (Role.DUTY_DS, Role.REFERRAL_UNIT)


@dataclass(frozen=True)
class MinutesAttached:
    """The TM/PM or police replied with the minutes attached (to the minutes email, or in the thread) (§5)."""

    sender: str = ""
    files: tuple[Attachment, ...] = ()


def refused(reason: str) -> Decision:
    """Nothing is done; the sender gets ``command_refused`` saying why."""
    return Decision(applies=False, refused=reason)


def over_refusal(view: CaseView) -> Decision | None:
    """§6: a command that needs a live case, on a cancelled or closed one: refused, with the reason."""
    case = view.case
    if case.state not in OVER:
        return None
    state = case.state.value
    return refused(f"Case {case.case_id} is {state}, so nothing more is recorded or sent for it.")


def _why_not(file: Attachment, max_bytes: int) -> str | None:
    if not file.filename.lower().endswith(MINUTES_SUFFIXES):
        return "not a " + ", ".join(MINUTES_SUFFIXES) + " file"
    if len(file.data) > max_bytes:
        return f"larger than {_size(max_bytes)}"
    return None


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 1_000_000 else f"{count:,} bytes"


def minutes_attached(view: CaseView, event: MinutesAttached, now: datetime, policy: Policy) -> Decision:
    """§5: the minutes go on to every attendee in the allowed domains; the minutes chase stops.

    Files that are not minutes (the wrong kind, or over ``privacy.max_minutes_attachment_bytes``)
    are not sent on, and the sender is told why; with none left, nothing is recorded.
    """
    case = view.case
    refusal = over_refusal(view)
    if refusal is not None:
        return refusal
    kept = tuple(f for f in event.files if _why_not(f, policy.max_minutes_attachment_bytes) is None)
    left = [f"{f.filename} ({_why_not(f, policy.max_minutes_attachment_bytes)})" for f in event.files if f not in kept]
    why = None
    if left:
        why = (
            ("The minutes were sent on to everyone invited, but these" if kept else "These")
            + " attachments were not sent on: "
            + "; ".join(left)
            + ". Minutes are sent on as "
            f"{', '.join(MINUTES_SUFFIXES)} files of at most {_size(policy.max_minutes_attachment_bytes)}."
        )
    if not kept:
        return refused(why or "No minutes were attached.")
    invited, _ = attendees(case.details, policy.recipient_domains)
    context = {"files": [f.filename for f in kept], "sender": event.sender, "not_sent": left}
    mail = Mail(Purpose.MINUTES_CIRCULATION, tuple(invited), POLICE_COPY, context, files=kept)
    stopped = len(view.pending_of(MINUTES_CHASE))
    circulated = f"{len(kept)} file(s) from {event.sender} to {', '.join(invited)}; copy to the duty DS, referral unit"
    return Decision(
        emails=(mail,),
        cancel_timers=(TimersToCancel(MINUTES_CHASE),),
        history=(
            Note("minutes_circulated", circulated),
            Note("minutes_recorded", f"minutes attached to a reply; {stopped} reminder(s) stopped"),
        ),
        refused=why,
    )


def _timescales(timers: list[CaseTimer], policy: Policy) -> list[dict[str, object]]:
    return [{"purpose": str(t.purpose), "due": t.due.astimezone(policy.tz), "detail": t.detail} for t in timers]


def outcome(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    """§5: the outcome recorded and circulated; a Section 47 outcome sets the S47 record and ICPC timescales.

    A later ``OUTCOME`` replaces the earlier one: the timers the new one does not need stop, and
    the notice says which; those it needs and already has are kept as they are.
    """
    refusal = over_refusal(view)
    if refusal is not None:
        return refusal
    recorded = Outcome(command.outcome) if command.outcome else None
    if recorded is None:
        return refused("OUTCOME needs one of: " + ", ".join(Outcome) + ".")
    # From the discussion: the booked start or the urgent meeting's time, else when HELD was
    # recorded; never from the date of this reply (§5).
    held = view.booking.start if view.booking else view.held_at or now
    discussion_day = held.astimezone(policy.tz).date()
    pending = view.pending_of(OUTCOME_TIMERS)
    wanted: list[CaseTimer] = []
    if recorded.is_section_47:
        # A replacement's timers get a scope of their own: the first outcome's keys may be spent.
        scope = OUTCOME_SCOPE if view.outcome is None else f"{OUTCOME_SCOPE}@{now.isoformat()}"
        deadlines = outcome_deadlines(discussion_day, policy.timers, policy.days, policy.tz)
        wanted = [CaseTimer(Purpose(d.purpose), d.due, scope, d.detail) for d in deadlines]
    has = {(t.purpose, t.detail) for t in pending}
    kept = [t for t in pending if (t.purpose, t.detail) in {(w.purpose, w.detail) for w in wanted}]
    stopped = [t for t in pending if t not in kept]
    new = [w for w in wanted if (w.purpose, w.detail) not in has]
    invited, _ = attendees(view.case.details, policy.recipient_domains)
    context = {
        "outcome": recorded.value,
        "previous": view.outcome,
        "discussion_day": discussion_day,
        "timescales": _timescales(sorted([*kept, *new], key=lambda t: t.due), policy),
        "stopped": _timescales(stopped, policy),
    }
    notice = Mail(Purpose.OUTCOME_NOTICE, tuple(invited), POLICE_COPY, context)
    history = [Note("outcome", recorded.value)]
    if view.outcome is not None:
        history.append(Note("outcome_replaced", f"{view.outcome} -> {recorded.value}; {len(stopped)} timer(s) stopped"))
    return Decision(
        emails=(notice,),
        set_timers=tuple(new),
        cancel_timers=(TimersToCancel(OUTCOME_TIMERS),) if stopped else (),
        history=tuple(history),
    )
