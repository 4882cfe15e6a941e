"""The urgent meeting (domain.md §4.4–4.6): agreed by phone, put in the calendar, chased until held."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.domain.booking_rules import attendees, meeting_context, minutes_pack
from bot.domain.case_states import can_move
from bot.domain.commands import Command
from bot.domain.deadlines import at_local
from bot.domain.decisions import (
    NOT_APPLICABLE,
    NOT_NEEDED,
    Attach,
    CaseTimer,
    CaseView,
    Decision,
    Mail,
    Note,
    Policy,
    Role,
    TimersToCancel,
    UrgentMeeting,
    booking_scope,
)
from bot.domain.model import Booking, CaseState, wall_clock
from bot.domain.purposes import LADDER, Purpose

S = CaseState
HELD_CHASE = frozenset({Purpose.HELD_CHASE})


def urgent_meeting_subject(n_numbers: Sequence[str]) -> str:
    """§4.4 and §3.5: the urgent meeting's calendar subject carries the N numbers and nothing else."""
    return "Urgent strategy meeting " + ", ".join(n_numbers)


def meeting_start(agreed: time, now: datetime, policy: Policy) -> datetime:
    """The agreed time today, or tomorrow when it has already passed (``CONTACTED 9:00`` said at 16:00)."""
    today = now.astimezone(policy.tz).date()
    start = at_local(today, agreed, policy.tz)
    return start if start > now else at_local(today + timedelta(days=1), agreed, policy.tz)


def held_chase_timers(anchor: datetime, agreed: bool, policy: Policy, scope: str) -> tuple[CaseTimer, ...]:
    """§4.6: two hours after the meeting (or by 18:00 on the day of contact when no time was given),
    and again at 09:00 the next working day."""
    timers = policy.timers
    local = anchor.astimezone(policy.tz)
    if agreed:
        first: datetime | None = anchor + timedelta(hours=timers.held_chase_hours)
    else:
        day_end = at_local(local.date(), timers.held_chase_day_end, policy.tz)
        first = day_end if day_end > anchor else None
    after = (first or anchor).astimezone(policy.tz).date()
    next_day = policy.days.next_working_day(after)
    again = at_local(next_day, timers.held_chase_next_day_time, policy.tz)
    chase = [CaseTimer(Purpose.HELD_CHASE, first, scope, "1")] if first else []
    return (*chase, CaseTimer(Purpose.HELD_CHASE, again, scope, "2"))


def contacted(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    """§4.3–4.6: police rang. The ladder stops; with a time, the urgent meeting goes in the calendar
    (its minutes pack at its start); without one, the minutes pack goes now. Either way the
    meeting is chased until it is recorded as held.

    ``CONTACTED <time>`` on a case already contacted, with no meeting yet, records the meeting.
    """
    case = view.case
    has_meeting = view.booking is not None and view.booking.status == "booked"
    adding_time = case.state is S.CONTACTED and command.meeting_time is not None and not has_meeting
    if not can_move(case.state, S.CONTACTED) and not adding_time:
        return NOT_APPLICABLE
    history: list[Note] = []
    if not adding_time:
        stopped = len(view.pending_of(LADDER))
        history.append(Note("contacted", f"police contact recorded; {stopped} escalation(s) stopped"))
    if command.meeting_time is not None:
        start = meeting_start(command.meeting_time, now, policy)
        history.append(Note("meeting_agreed", wall_clock(start, policy.tz)))
        return Decision(
            state=S.CONTACTED,
            cancel_timers=(TimersToCancel(LADDER), TimersToCancel(HELD_CHASE)),
            history=tuple(history),
            change=UrgentMeeting(start),
        )
    return Decision(
        state=S.CONTACTED,
        cancel_timers=(TimersToCancel(LADDER),),
        set_timers=held_chase_timers(now, False, policy, "contact"),
        history=tuple(history),
        emails=(minutes_pack(case, now, (Role.DUTY_DS,)),),
    )


@dataclass(frozen=True)
class MeetingBooked:
    """The urgent meeting is in the strategy calendar (§4.4)."""

    booking: Booking


def meeting_booked(view: CaseView, event: MeetingBooked, now: datetime, policy: Policy) -> Decision:
    """§4.4: the invitation to the TM/PM, the duty DS, the health representative and the professionals;
    the minutes pack at the meeting's start; the held chase after it."""
    case, booking = view.case, event.booking
    invited, left_out = attendees(case.details, policy.recipient_domains)
    others = [a for a in invited if a != case.details.requester.email]
    health_rep = case.details.health_rep
    context = {
        **meeting_context(booking, False, policy),
        "invited": [*invited, "the duty detective sergeant"],
        "health_rep": health_rep if health_rep in invited else None,
        "left_out": left_out,
        "same_day": booking.start.astimezone(policy.tz).date() == now.astimezone(policy.tz).date(),
    }
    to = (case.details.requester.email or "",)
    mail = Mail(Purpose.URGENT_MEETING, to, (Role.DUTY_DS, *others), context, Attach.INVITATION)
    scope = booking_scope(booking)
    timers = (
        CaseTimer(Purpose.MINUTES_TEMPLATE, booking.start, scope),
        *held_chase_timers(booking.start, True, policy, scope),
    )
    subject = urgent_meeting_subject(case.details.n_numbers)
    return Decision(
        emails=(mail,),
        set_timers=timers,
        history=(Note("booked", f"{wall_clock(booking.start, policy.tz)} {subject}"),),
    )


def held_chase(view: CaseView, timer: CaseTimer, policy: Policy) -> Decision:
    """§4.6: the meeting not recorded as held: the TM/PM and the duty DS asked to confirm; the
    second time, the referral unit copied."""
    case = view.case
    if case.state is not S.CONTACTED:
        return NOT_NEEDED
    second = timer.detail == "2"
    booking = view.booking if view.booking is not None and view.booking.status == "booked" else None
    context = {
        "start": booking.start.astimezone(policy.tz) if booking else None,
        "contacted": view.contacted_at.astimezone(policy.tz) if view.contacted_at else None,
        "second": second,
    }
    cc = (Role.REFERRAL_UNIT,) if second else ()
    return Decision(emails=(Mail(timer.purpose, (case.details.requester.email or "", Role.DUTY_DS), cc, context),))
