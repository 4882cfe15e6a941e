"""What a booking means for a case (domain.md §3.3–§3.6, §5, §6): state, confirmation, timers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from bot.domain.deadlines import booking_deadlines
from bot.domain.decisions import (
    Attach,
    CaseTimer,
    CaseView,
    Decision,
    Mail,
    Note,
    Policy,
    Recipient,
    Role,
    TimersToCancel,
    booking_scope,
)
from bot.domain.model import Booking, Case, CaseState, RequestDetails, wall_clock
from bot.domain.purposes import MINUTES_CHASE, Purpose
from bot.domain.quorum import attendance, quorum_note, social_worker_email
from bot.domain.slots import SlotChoice
from bot.domain.trust import domain_allowed


def unique(items: Iterable[str | None]) -> list[str]:
    """The truthy items, each once, in order."""
    return list(dict.fromkeys(i for i in items if i))


def event_subject(n_numbers: Sequence[str]) -> str:
    """§3.5: the calendar event's subject carries the N numbers and nothing else."""
    return "Strategy discussion " + ", ".join(n_numbers)


def attendees(details: RequestDetails, recipient_domains: Sequence[str]) -> tuple[list[str], list[str]]:
    """(invited, left out): the TM/PM first, then the social worker, the health rep and professionals,
    split by allowed domains (§7)."""
    invitees = unique([social_worker_email(details), details.health_rep, *details.invitees])
    # The receiving authority of a family that moved was checked against its own domains (§5).
    allowed = [a for a in invitees if domain_allowed(a, recipient_domains) or a in details.receiving_authority]
    left_out = [a for a in invitees if a not in allowed]
    return unique([details.requester.email, *allowed]), left_out


def meeting_context(booking: Booking, complex_case: bool, policy: Policy) -> dict[str, object]:
    """What every email about a booked discussion says of it: when and how long."""
    return {
        "start": booking.start.astimezone(policy.tz),
        "end": booking.end.astimezone(policy.tz),
        "minutes": int((booking.end - booking.start).total_seconds() // 60),
        "complex": complex_case,
    }


def booking_timers(booking: Booking, policy: Policy) -> tuple[CaseTimer, ...]:
    """§5: the reminders, the minutes pack and the minutes chase of one booking, scoped to it."""
    scope = booking_scope(booking)
    deadlines = booking_deadlines(booking.start, booking.end, policy.timers, policy.days, policy.tz)
    # The minutes chase names its discussion: after MOVED the case's booking is the new one (§5).
    start = booking.start.isoformat()
    return tuple(
        CaseTimer(Purpose(d.purpose), d.due, scope, start if Purpose(d.purpose) in MINUTES_CHASE else d.detail)
        for d in deadlines
    )


def minutes_pack(case: Case, start: datetime, extra_to: tuple[Recipient, ...] = ()) -> Mail:
    """§5: the minutes pack for a discussion starting at ``start``, to the TM/PM (and the duty DS, urgent)."""
    to = (case.details.requester.email or "", *extra_to)
    return Mail(Purpose.MINUTES_TEMPLATE, to, (), {"meeting_start": start}, Attach.MINUTES_PACK)


def timescale_days(case: Case, policy: Policy) -> int:
    schedule = policy.schedule
    return schedule.complex_timescale_working_days if case.details.complex else schedule.timescale_working_days


def confirmation(
    case: Case,
    booking: Booking,
    policy: Policy,
    urgent_indicators: Sequence[str] = (),
    deadline: date | None = None,
    check_timescale: bool = True,
    moved_from: Booking | None = None,
) -> Mail:
    """§3.6: the confirmation with its invitation, to the TM/PM, copied to everyone invited.

    ``moved_from``: the booking it replaces (RESCHEDULE, COMPLEX): the email says the booking
    moved, from when to when, or that it is longer at the same time, never "booked".

    ``check_timescale`` is off for a mobile family's new discussion: its hours are checked
    separately, not the referral's working days.
    """
    details = case.details
    invited_all, left_out = attendees(details, policy.recipient_domains)
    invited = [a for a in invited_all if a != details.requester.email]
    present = attendance(details, invited_all)
    if deadline is None:
        effective = date.fromisoformat(case.effective_day) if case.effective_day else booking.start.date()
        deadline = policy.days.add_working_days(effective, timescale_days(case, policy))
    context = {
        **meeting_context(booking, details.complex, policy),
        "surname": details.surname or "",
        "invitees": invited,
        "health_rep": details.health_rep if details.health_rep in invited else None,
        "quorum_note": quorum_note(present.missing),
        "by_role": present.by_role(),
        "left_out": left_out,
        "within_timescale": not check_timescale or booking.start.astimezone(policy.tz).date() <= deadline,
        "deadline": deadline,
        "urgent_indicators": list(urgent_indicators),
        **_moved_context(moved_from, booking, policy),
    }
    cc = (*invited, *((Role.REFERRAL_UNIT,) if urgent_indicators else ()))
    return Mail(Purpose.CONFIRMATION, (details.requester.email or "",), cc, context, Attach.INVITATION)


def _moved_context(old: Booking | None, new: Booking, policy: Policy) -> dict[str, object]:
    moved = old is not None and old.start != new.start
    return {
        "moved_from": old.start.astimezone(policy.tz) if old is not None and moved else None,
        "lengthened": old is not None and not moved,
    }


def timescale_notice(case: Case, choice: SlotChoice | None, now: datetime, policy: Policy) -> Mail:
    """§3.4: the TM/PM and the referral unit told the timescale is at risk (or no slot was found)."""
    context = {
        "start": choice.start.astimezone(policy.tz) if choice else None,
        "end": choice.end.astimezone(policy.tz) if choice else None,
        "effective_day": choice.effective_day if choice else now.astimezone(policy.tz).date(),
        "deadline": choice.deadline if choice else None,
        "working_days": timescale_days(case, policy),
        "hours": None,
        "complex": case.details.complex,
    }
    to = (case.details.requester.email or "",)
    return Mail(Purpose.TIMESCALE_AT_RISK, to, (Role.REFERRAL_UNIT,), context)


@dataclass(frozen=True)
class Booked:
    """A standard request's slot was found and put in the calendar (§3.3)."""

    booking: Booking
    choice: SlotChoice
    urgent_indicators: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rebooked:
    """``RESCHEDULE`` or ``COMPLEX`` moved the booking (§6)."""

    old: Booking
    new: Booking
    details: RequestDetails


@dataclass(frozen=True)
class BookedForMovedFamily:
    """A mobile family's new discussion was put in the calendar (§5); ``previous`` the booking it follows."""

    booking: Booking
    previous: Booking | None
    details: RequestDetails


@dataclass(frozen=True)
class NoSlot:
    """No free slot within the horizon (§3.3): the case goes to a person at the referral unit."""

    details: RequestDetails | None = None


def booked(view: CaseView, event: Booked, now: datetime, policy: Policy) -> Decision:
    case, booking, choice = view.case, event.booking, event.choice
    emails = [confirmation(case, booking, policy, event.urgent_indicators, choice.deadline)]
    history = [Note("booked", f"{wall_clock(booking.start, policy.tz)} {event_subject(case.details.n_numbers)}")]
    if not choice.within_timescale:
        history.append(Note("timescale_at_risk"))
        emails.append(timescale_notice(case, choice, now, policy))
    return Decision(
        state=CaseState.BOOKED,
        effective_day=choice.effective_day,
        emails=tuple(emails),
        set_timers=booking_timers(booking, policy),
        history=tuple(history),
    )


def rebooked(view: CaseView, event: Rebooked, now: datetime, policy: Policy) -> Decision:
    """The old booking's timers stop and the new one's are set, whatever their times (issue 11 §5)."""
    case = replace(view.case, details=event.details)
    tz = policy.tz
    return Decision(
        details=event.details if event.details != view.case.details else None,
        emails=(confirmation(case, event.new, policy, moved_from=event.old),),
        cancel_timers=(TimersToCancel(scope=booking_scope(event.old)),),
        set_timers=booking_timers(event.new, policy),
        history=(Note("moved", f"{wall_clock(event.old.start, tz)} -> {wall_clock(event.new.start, tz)}"),),
    )


def booked_for_moved_family(view: CaseView, event: BookedForMovedFamily, now: datetime, policy: Policy) -> Decision:
    """§5 Mobile families: the new discussion, confirmed; the hours checked; a held discussion's chase kept.

    The booking it follows keeps its timers once it has started (its minutes are still due);
    only the reminders of a discussion that has not happened yet stop.
    """
    case = replace(view.case, details=event.details)
    booking, tz = event.booking, policy.tz
    cancel: tuple[TimersToCancel, ...] = ()
    previous = event.previous
    if previous is not None and previous.start > now and view.case.state is CaseState.BOOKED:
        cancel = (TimersToCancel(scope=booking_scope(previous)),)
    emails = [confirmation(case, booking, policy, check_timescale=False)]
    history = [
        Note("booked", f"{wall_clock(booking.start, tz)} {event_subject(case.details.n_numbers)} (mobile family)")
    ]
    due = now + timedelta(hours=policy.timers.mobile_family_hours)
    if booking.start > due:
        context = {
            "start": booking.start.astimezone(tz),
            "end": booking.end.astimezone(tz),
            "effective_day": now.astimezone(tz).date(),
            "deadline": due.astimezone(tz).date(),
            "working_days": None,
            "hours": policy.timers.mobile_family_hours,
            "complex": case.details.complex,
        }
        history.append(Note("timescale_at_risk", "mobile family"))
        to = (case.details.requester.email or "",)
        emails.append(Mail(Purpose.TIMESCALE_AT_RISK, to, (Role.REFERRAL_UNIT,), context))
    return Decision(
        state=CaseState.BOOKED,
        details=event.details,
        emails=tuple(emails),
        cancel_timers=cancel,
        set_timers=booking_timers(booking, policy),
        history=tuple(history),
    )


def no_slot(view: CaseView, event: NoSlot, now: datetime, policy: Policy) -> Decision:
    return Decision(
        state=CaseState.NEEDS_PERSON,
        details=event.details,
        emails=(timescale_notice(view.case, None, now, policy),),
        history=(Note("needs_person", "no free slot within the horizon"), Note("timescale_at_risk")),
    )
