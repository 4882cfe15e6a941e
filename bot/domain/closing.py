"""§5 Closing a case: a case closes when nothing is pending, or long after its last event.

The rule is pure: the service runs it as a periodic check (the daemon's round, ``replay``'s
timer loop) over every case not yet closed, and carries out the decision like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.decisions import NOT_APPLICABLE, CaseView, Decision, Note, Policy, TimersToCancel
from bot.domain.model import CaseState

# What the history calls the minutes being in (§5: recorded on the sender's word, or circulated).
MINUTES_ACTIONS = frozenset({"minutes_recorded", "minutes_circulated"})


@dataclass(frozen=True)
class CloseCheck:
    """The periodic check: what the history says of the case that its view does not."""

    last_event_at: datetime  # the newest entry of the case's history
    minutes_recorded: bool


def closing_reason(view: CaseView, check: CloseCheck, now: datetime, policy: Policy) -> str | None:
    """Why the case in ``view`` closes now, or None while something is still pending."""
    case = view.case
    if case.state is CaseState.CLOSED:
        return None
    if case.state is CaseState.CANCELLED:
        return "cancelled"
    if view.pending:
        return None
    if _held(view, now) and check.minutes_recorded and view.outcome is not None:
        return "held, minutes and outcome recorded"
    days = policy.close_after_days
    if now - check.last_event_at >= timedelta(days=days):
        return f"nothing pending and no event for {days} days"
    return None


def _held(view: CaseView, now: datetime) -> bool:
    """Held: recorded as held (urgent), or a booked discussion whose time has passed (standard)."""
    if view.case.state is CaseState.HELD:
        return True
    booking = view.booking
    return view.case.state is CaseState.BOOKED and booking is not None and booking.end <= now


def close_check(view: CaseView, check: CloseCheck, now: datetime, policy: Policy) -> Decision:
    """The case closes (a cancelled one's leftover timers stopped), or the check does not apply."""
    reason = closing_reason(view, check, now, policy)
    if reason is None:
        return NOT_APPLICABLE
    leftover = (TimersToCancel(),) if view.pending else ()
    return Decision(state=CaseState.CLOSED, cancel_timers=leftover, history=(Note("closed", reason),))
