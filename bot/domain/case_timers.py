"""What each case timer sends when it falls due (domain.md §4.3, §5), one rule per purpose."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.booking_rules import attendees, meeting_context, minutes_pack
from bot.domain.deadlines import elapsed, minutes_between, repeat_number
from bot.domain.decisions import NOT_NEEDED, CaseTimer, CaseView, Decision, Mail, Policy, Role, booking_scope
from bot.domain.model import Case, CaseState
from bot.domain.purposes import Purpose
from bot.domain.review import review_reminder
from bot.domain.urgent_meeting import held_chase


def _requester(case: Case) -> str:
    return case.details.requester.email or ""


def _clock_start(case: Case) -> datetime:
    return case.clock_start or case.received_at


def escalation(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§4.3: police have not rung back: at 60 minutes the TM/PM gets the named DS contacts; at 90
    Admin Support is asked to escalate; at 120, and every repeat after, the MASH Service Manager is told."""
    case = view.case
    if case.state is not CaseState.AWAITING_CONTACT:
        return NOT_NEEDED
    t0 = _clock_start(case)
    context: dict[str, object] = {
        "clock_start": t0.astimezone(policy.tz),
        "callback_by": elapsed(t0, policy.urgent.callback_minutes).astimezone(policy.tz),
        "minutes_since": minutes_between(t0, timer.due),
    }
    requester = _requester(case)
    if timer.purpose is Purpose.ESCALATION_60:
        mail = Mail(timer.purpose, (requester,), (Role.DUTY_DS, Role.REFERRAL_UNIT), context)
    elif timer.purpose is Purpose.ESCALATION_90:
        context["phone"] = case.details.requester.phone
        mail = Mail(timer.purpose, (Role.ADMIN_SUPPORT,), (requester,), context)
    else:
        context["phone"] = case.details.requester.phone
        context["repeat_minutes"] = policy.urgent.repeat_minutes
        context["repeats"] = policy.urgent.max_repeats
        if timer.purpose is Purpose.ESCALATION_REPEAT:
            # Numbered when set, so a max_repeats changed since still reads "3 of 6" on the third of six.
            context["repeat"], context["repeats"] = repeat_number(timer.detail)
        cc = (Role.ADMIN_SUPPORT, Role.REFERRAL_UNIT, requester)
        mail = Mail(timer.purpose, (Role.MASH_SERVICE_MANAGER,), cc, context)
    return Decision(emails=(mail,))


def _current_booking(view: CaseView, timer: CaseTimer) -> bool:
    """The timer belongs to the case's booking as it stands (a moved booking's old timers do not)."""
    booking = view.booking
    return booking is not None and view.case.state is CaseState.BOOKED and timer.scope in ("", booking_scope(booking))


def reminder(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§5: the working day before and 30 minutes before, to the TM/PM and everyone invited."""
    if not _current_booking(view, timer) or view.booking is None:
        return NOT_NEEDED
    invited, _ = attendees(view.case.details, policy.recipient_domains)
    context = meeting_context(view.booking, view.case.details.complex, policy)
    return Decision(emails=(Mail(timer.purpose, tuple(invited[:1]), tuple(invited[1:]), context),))


def minutes_template(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§5: the minutes pack at the start of a booked discussion; at the start of an urgent meeting,
    to the duty DS as well (§4.5)."""
    booking, state = view.booking, view.case.state
    if booking is None or timer.scope not in ("", booking_scope(booking)):
        return NOT_NEEDED
    if state is CaseState.BOOKED:
        return Decision(emails=(minutes_pack(view.case, booking.start),))
    if state is CaseState.CONTACTED:
        return Decision(emails=(minutes_pack(view.case, booking.start, (Role.DUTY_DS,)),))
    return NOT_NEEDED


def _discussion_start(timer: CaseTimer) -> datetime | None:
    """The start of the discussion a minutes timer chases, as set with it (booking_rules.booking_timers)."""
    try:
        return datetime.fromisoformat(timer.detail) if timer.detail else None
    except ValueError:
        return None


def minutes_chase(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§5: the reminder before the minutes are due, and the escalation when they are overdue."""
    case = view.case
    start = view.booking.start if view.booking else _clock_start(case)
    start = _discussion_start(timer) or start  # the discussion it chases, though the family moved since
    due = timer.due
    if timer.purpose is Purpose.MINUTES_REMINDER:
        overdue = [t for t in view.pending if t.purpose == Purpose.MINUTES_OVERDUE and t.scope == timer.scope]
        due = overdue[0].due if overdue else due
    context = {"start": start.astimezone(policy.tz), "due": due.astimezone(policy.tz)}
    cc = (Role.REFERRAL_UNIT,) if timer.purpose is Purpose.MINUTES_OVERDUE else ()
    return Decision(emails=(Mail(timer.purpose, (_requester(case),), cc, context),))


def later_timescale(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§5: the Section 47 record by working day 3; the conference by day 15, warned on day 10."""
    case = view.case
    # The discussion as OUTCOME counted from it: the booking, else when HELD was recorded (§5).
    held = view.booking.start if view.booking else view.held_at or _clock_start(case)
    held_on = held.astimezone(policy.tz).date()
    context: dict[str, object] = {"discussion_day": held_on, "outcome": view.outcome or ""}
    if timer.purpose is Purpose.S47_OUTCOME_DUE:
        context["due_day"] = timer.due.astimezone(policy.tz).date()
        return Decision(emails=(Mail(timer.purpose, (_requester(case),), (), context),))
    # The conference date this timer was set for: what its text says is what its time says.
    days_left = int(timer.detail or 0)
    context["days_left"] = days_left
    context["icpc_by"] = policy.days.add_working_days(timer.due.astimezone(policy.tz).date(), days_left)
    return Decision(emails=(Mail(timer.purpose, (_requester(case),), (Role.REFERRAL_UNIT,), context),))


TimerRule = Callable[[CaseView, CaseTimer, Policy], Decision]

# Purpose → rule for every timer that belongs to a case. The daily agenda belongs to no case;
# the service keeps it.
CASE_TIMERS: dict[Purpose, TimerRule] = {
    Purpose.ESCALATION_60: escalation,
    Purpose.ESCALATION_90: escalation,
    Purpose.ESCALATION_120: escalation,
    Purpose.ESCALATION_REPEAT: escalation,
    Purpose.REMINDER_DAY_BEFORE: reminder,
    Purpose.REMINDER_30_MIN: reminder,
    Purpose.MINUTES_TEMPLATE: minutes_template,
    Purpose.MINUTES_REMINDER: minutes_chase,
    Purpose.MINUTES_OVERDUE: minutes_chase,
    Purpose.HELD_CHASE: held_chase,
    Purpose.S47_OUTCOME_DUE: later_timescale,
    Purpose.ICPC_DUE: later_timescale,
    Purpose.REVIEW_REMINDER: review_reminder,
}
