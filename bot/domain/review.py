"""§5 Review and further discussions: ``REVIEW <date>`` and the reminder the working day before."""

from __future__ import annotations

from datetime import date, datetime

from bot.domain.booking_rules import attendees
from bot.domain.commands import Command
from bot.domain.deadlines import at_local, previous_working_day
from bot.domain.decisions import (
    NOT_APPLICABLE,
    NOT_NEEDED,
    CaseTimer,
    CaseView,
    Decision,
    FurtherDiscussion,
    Mail,
    Note,
    Policy,
    TimersToCancel,
)
from bot.domain.mobile_families import command_refused
from bot.domain.model import CaseState
from bot.domain.purposes import Purpose
from bot.domain.review_dates import review_day

REVIEW_SCOPE = "review"
REVIEW_REMINDERS = frozenset({Purpose.REVIEW_REMINDER})


def review(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    """§5: the review date recorded; the TM/PM and the invitees reminded at 16:00 the working day before.
    A later REVIEW replaces the earlier reminder."""
    if view.case.state in (CaseState.CANCELLED, CaseState.CLOSED) or command.review is None:
        return NOT_APPLICABLE
    day = review_day(command.review, now.astimezone(policy.tz).date())
    if day is None:
        reason = "The review date has passed (or does not exist); give a date from today on, for example REVIEW 14/12."
        return Decision(
            emails=(command_refused(sender, "REVIEW", reason),),
            history=(Note("command_refused", "REVIEW: date passed"),),
        )
    due = at_local(previous_working_day(day, policy.days), policy.timers.reminder_day_before_time, policy.tz)
    note = Note("review", day.isoformat())
    if any(t.detail == day.isoformat() for t in view.pending_of(REVIEW_REMINDERS)):
        return Decision(history=(note,))
    # Scoped to the reply that set it, so the same date set again later is a new timer.
    timer = CaseTimer(Purpose.REVIEW_REMINDER, due, f"{REVIEW_SCOPE}@{now.isoformat()}", day.isoformat())
    return Decision(cancel_timers=(TimersToCancel(REVIEW_REMINDERS),), set_timers=(timer,), history=(note,))


def _review_day(timer: CaseTimer, policy: Policy) -> date:
    """The review date the timer was set for (its detail); failing that, the working day after it."""
    try:
        return date.fromisoformat(timer.detail)
    except ValueError:
        return policy.days.next_working_day(timer.due.astimezone(policy.tz).date())


def review_reminder(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§5: the day before the review, to the TM/PM and everyone invited."""
    if view.case.state in (CaseState.CANCELLED, CaseState.CLOSED):
        return NOT_NEEDED
    invited, _ = attendees(view.case.details, policy.recipient_domains)
    context = {"review_day": _review_day(timer, policy)}
    return Decision(emails=(Mail(Purpose.REVIEW_REMINDER, tuple(invited[:1]), tuple(invited[1:]), context),))


def further(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    """§5: a further discussion for the same children; the service opens and books the linked case."""
    if view.case.state in (CaseState.CANCELLED, CaseState.CLOSED):
        return NOT_APPLICABLE
    return Decision(change=FurtherDiscussion())
