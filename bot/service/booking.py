"""The strategy calendar's side of a case: book, move, cancel, a mobile family's new discussion, overruns."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.booking_rules import Booked, BookedForMovedFamily, NoSlot, Rebooked, attendees, meeting_context
from bot.domain.decisions import CancelBooking, Change, FamilyMoved, FurtherDiscussion, Move, Overrun, UrgentMeeting
from bot.domain.emergency import emergency_deadline, none_in_time
from bot.domain.model import Booking, CalendarEvent, Case, CaseState, Interval, Kind, RequestDetails
from bot.domain.purposes import Purpose
from bot.domain.slots import SlotChoice, booking_length, choose_slot, next_slot_after
from bot.domain.urgent_meeting import MeetingBooked
from bot.errors import SlotTaken
from bot.service.documents import event_for, event_uid, invitation_for
from bot.service.unit import Unit

log = logging.getLogger("bot.service")

# How many days one calendar look-up covers: the search horizon (ten meeting days by default)
# with its weekends and a bank holiday or two.
_WINDOW_DAYS = 21


def _busy_on(unit: Unit, own: Interval | None = None, leave_out: str | None = None) -> Callable[[date], list[Interval]]:
    """The calendar's busy time on a day, without the case's own event (``own`` times or uid ``leave_out``)."""
    tz = unit.setup.tz
    calendar = unit.setup.calendar
    # One calendar look-up for the whole search horizon rather than one per meeting day: the
    # days asked for are consecutive, so a window read once serves them all.
    window: list[date] = []
    share: list[Callable[[date], list[Interval]]] = []

    def busy_on(day: date) -> list[Interval]:
        if not window or not window[0] <= day < window[1]:
            start = datetime.combine(day, time(0), tzinfo=tz)
            end = datetime.combine(day + timedelta(days=_WINDOW_DAYS), time(0), tzinfo=tz)
            if leave_out is not None:
                found = [Interval(e.start, e.end) for e in calendar.events(start, end) if e.uid != leave_out]
            else:
                found = [i for i in calendar.busy(start, end) if i != own]
            window[:] = [day, day + timedelta(days=_WINDOW_DAYS)]
            share[:] = [day_by_day(found, tz)]
        return share[0](day)

    return busy_on


def day_by_day(intervals: list[Interval], tz: ZoneInfo) -> Callable[[date], list[Interval]]:
    """The intervals that overlap a local day, in their order, for one day after another.

    Compared in UTC, converted once: instants in one zone compare without a zone look-up, where
    an interval in UTC against a London midnight looks the zone up at every comparison.
    """
    seen = [(i, i.start.astimezone(UTC), i.end.astimezone(UTC)) for i in intervals]

    def on(day: date) -> list[Interval]:
        day_start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        return [i for i, start, end in seen if start < day_end and end > day_start]

    return on


def find_slot(
    unit: Unit, received: datetime, complex_case: bool, own: Interval | None = None, deadline: date | None = None
) -> SlotChoice | None:
    """§3: the next proper slot; never in the past when a request is handled late (after an outage).

    With a ``deadline`` (emergency action, §3.4) none later than it: None when none is free by then.
    """
    setup = unit.setup
    schedule = setup.config.schedule
    busy = _busy_on(unit, own)
    return choose_slot(
        received, complex_case, busy, schedule, setup.days, setup.tz, not_before=unit.now, deadline=deadline
    )


def _keep(unit: Unit, event: CalendarEvent, already: Interval | None) -> None:
    """Put the event in the calendar: booked, or, when it is there already (made before a crash,
    not yet recorded), moved to these times if it has others."""
    if already is None:
        unit.setup.calendar.book(event)
    elif already != Interval(event.start, event.end):
        unit.setup.calendar.move(event)


def book(unit: Unit, case: Case, received: datetime, urgent_indicators: tuple[str, ...]) -> Case:
    """§3.3–3.6: the next proper slot, the event, the confirmation, the timescale check."""
    setup = unit.setup
    # A retry after a crash between the calendar's write and our commit finds its own event
    # there: the slot is chosen as if it were free, and the event kept to it.
    already = setup.calendar.booked(event_uid(setup, case))
    action = case.details.emergency_action
    # Counted from the request, not from a later reply that completed it (§3.4).
    schedule = setup.config.schedule
    deadline = emergency_deadline(action, case.received_at, schedule, setup.days, setup.tz) if action else None
    choice = find_slot(unit, received, case.details.complex, own=already, deadline=deadline)
    if choice is None:
        return _none_in_time(unit, case) if deadline else _no_slot(unit, case)
    event = event_for(setup, case, choice.start, choice.end, sequence=0)
    try:
        _keep(unit, event, already)
    except SlotTaken:
        # Someone booked by hand between our look and our write: look again once.
        choice = find_slot(unit, received, case.details.complex, own=already, deadline=deadline)
        if choice is None:
            return _none_in_time(unit, case) if deadline else _no_slot(unit, case)
        event = event_for(setup, case, choice.start, choice.end, sequence=0)
        _keep(unit, event, already)
    booking = _recorded(unit, case, event)
    log.info("case %s %s booked %s", case.case_id, ",".join(case.details.n_numbers), choice.start.isoformat())
    case, _ = unit.decide(case, Booked(booking, choice, urgent_indicators), event)
    return case


def _recorded(unit: Unit, case: Case, event: CalendarEvent) -> Booking:
    """An event now in the calendar, recorded as the case's booking and shown in what was handled."""
    booking = Booking(case.case_id, event.uid, event.start, event.end)
    unit.tx.add_booking(booking)
    unit.result.booked.append((case.case_id, event))
    return booking


def _no_slot(unit: Unit, case: Case, details: RequestDetails | None = None) -> Case:
    log.warning("case %s: no free slot within the horizon; passed to a person", case.case_id)
    case, _ = unit.decide(case, NoSlot(details))
    return case


def _none_in_time(unit: Unit, case: Case) -> Case:
    """§3.4: emergency action and no rota slot in time: nothing booked, arranged outside the rota."""
    setup = unit.setup
    assert case.details.emergency_action is not None
    log.warning("case %s: emergency action and no rota slot in time; to be arranged outside the rota", case.case_id)
    event = none_in_time(case.details.emergency_action, case.received_at, setup.config.schedule, setup.days, setup.tz)
    case, _ = unit.decide(case, event)
    return case


def carry_out_change(unit: Unit, case: Case, change: Change | None) -> bool:
    """Carry out the calendar side of a command; False when it turns out not to apply (no free slot)."""
    if isinstance(change, CancelBooking):
        cancel(unit, case, change.by)
    elif isinstance(change, Move):
        return move(unit, case, change.make_complex)
    elif isinstance(change, FamilyMoved):
        family_moved(unit, case)
    elif isinstance(change, Overrun):
        overrun(unit, case, change.minutes)
    elif isinstance(change, UrgentMeeting):
        urgent_meeting(unit, case, change.start)
    elif isinstance(change, FurtherDiscussion):
        further_discussion(unit, case)
    return True


def further_discussion(unit: Unit, case: Case) -> Case:
    """§5 FURTHER: a standard case with the same details, booked the normal way (``booked`` and a
    confirmation), its effective day the day of the reply; each case's history names the other."""
    tz = unit.setup.tz
    root = unit.in_reply_to or f"<{case.case_id}.further.{unit.now:%Y%m%dT%H%M%S}@{unit.config.bot.message_id_domain}>"
    new = unit.tx.add_case(Kind.STANDARD, CaseState.BOOKED, case.details, root, unit.now, unit.now)
    actor, unit.actor = unit.actor, "bot"
    unit.note(new, "linked", f"further discussion of case {case.case_id}")
    unit.note(case, "linked", f"further discussion booked as case {new.case_id}")
    unit.actor = actor
    log.info("case %s: further discussion opened as case %s", case.case_id, new.case_id)
    # From the start of the reply's day, so that day is the effective day whatever the cut-off;
    # the slot is never in the past all the same (``find_slot`` looks from now).
    return book(unit, new, datetime.combine(unit.now.astimezone(tz).date(), time(0), tzinfo=tz), ())


def cancel(unit: Unit, case: Case, by: str) -> None:
    """§6 CANCEL: the slot freed, everyone invited sent a cancellation."""
    setup = unit.setup
    log.info("case %s cancelled", case.case_id)
    booking = unit.tx.booking_for(case.case_id)
    if booking is None:
        return
    event = event_for(setup, case, booking.start, booking.end, booking.sequence + 1, uid=booking.uid)
    setup.calendar.cancel(booking.uid)
    unit.tx.set_booking(case.case_id, booking.start, booking.end, booking.sequence + 1, "cancelled")
    unit.result.cancelled.append((case.case_id, event))
    context = {"start": booking.start.astimezone(setup.tz), "end": booking.end.astimezone(setup.tz), "cancelled_by": by}
    invited, _ = attendees(case.details, setup.policy.recipient_domains)
    attachments = invitation_for(setup, event, "CANCEL", unit.now)
    unit.send(Purpose.CANCELLATION, case, invited[:1], invited[1:], context, attachments=attachments)


def move(unit: Unit, case: Case, make_complex: bool) -> bool:
    """RESCHEDULE: the next free slot after the current one. COMPLEX: 30 minutes, in place if it fits."""
    setup = unit.setup
    booking = unit.tx.booking_for(case.case_id)
    if booking is None:
        return False
    details = replace(case.details, complex=True) if make_complex else case.details
    minutes = booking_length(details.complex, setup.config.schedule)
    new_start = next_slot_after(
        booking.start,
        minutes,
        _busy_on(unit, leave_out=booking.uid),
        setup.config.schedule,
        setup.days,
        setup.tz,
        same_start_allowed=make_complex,
    )
    if new_start is None:
        return False
    new_end = new_start + timedelta(minutes=minutes)
    moved_case = replace(case, details=details)
    event = event_for(setup, moved_case, new_start, new_end, booking.sequence + 1, uid=booking.uid)
    setup.calendar.move(event)
    moved = Booking(case.case_id, booking.uid, new_start, new_end, booking.sequence + 1)
    unit.tx.set_booking(case.case_id, new_start, new_end, moved.sequence, "booked")
    unit.result.moved.append((case.case_id, event))
    log.info("case %s moved to %s", case.case_id, new_start.isoformat())
    unit.decide(case, Rebooked(booking, moved, details), event)
    return True


def family_moved(unit: Unit, case: Case) -> None:
    """§5 Mobile families: a new strategy discussion within the configured hours, the receiving authority invited."""
    setup = unit.setup
    tz = setup.tz
    minutes = booking_length(case.details.complex, setup.config.schedule)
    # Named after the message that said the family moved, so a retry of that message finds
    # the event it made rather than making another.
    moved_by = hashlib.sha256((unit.in_reply_to or unit.now.isoformat()).encode()).hexdigest()[:16]
    uid = f"{case.case_id}.moved.{moved_by}@{setup.config.bot.message_id_domain}"
    already = setup.calendar.booked(uid)
    # From the next day: police need time for their research, as for any booked slot.
    tomorrow = datetime.combine(unit.now.astimezone(tz).date() + timedelta(days=1), time(0), tzinfo=tz)
    start = next_slot_after(
        tomorrow, minutes, _busy_on(unit, own=already), setup.config.schedule, setup.days, tz, same_start_allowed=True
    )
    if start is None:
        _no_slot(unit, case, case.details)
        return
    end = start + timedelta(minutes=minutes)
    previous = unit.tx.booking_for(case.case_id)
    if previous is not None:
        unit.tx.set_booking(case.case_id, previous.start, previous.end, previous.sequence, "superseded")
    event = event_for(setup, case, start, end, 0, uid=uid)
    _keep(unit, event, already)
    booking = _recorded(unit, case, event)
    unit.decide(case, BookedForMovedFamily(booking, previous, case.details), event)


def overrun(unit: Unit, case: Case, minutes: int) -> None:
    """§5 Overrun: every TM/PM booked later that day is told of a potential delay."""
    booking = unit.tx.booking_for(case.case_id)
    told = tell_later_bookings(unit, booking.start if booking else unit.now, minutes, case.case_id)
    unit.note(case, "delay", f"{minutes} minutes; {told} later booking(s) told")


def tell_later_bookings(unit: Unit, anchor: datetime, minutes: int, leave_out: str | None = None) -> int:
    """A ``delay_notice`` to the TM/PM of each booking later on ``anchor``'s day; how many were told."""
    setup = unit.setup
    local = anchor.astimezone(setup.tz)
    day_end = datetime.combine(local.date(), time(23, 59), tzinfo=setup.tz)
    later = [b for b in unit.tx.bookings_between(anchor, day_end) if b.start > anchor and b.case_id != leave_out]
    for other in later:
        other_case = unit.tx.case(other.case_id)
        if other_case is None:
            continue
        context = {**meeting_context(other, other_case.details.complex, setup.policy), "delay_minutes": minutes}
        unit.send(Purpose.DELAY_NOTICE, other_case, (other_case.details.requester.email or "",), (), context)
    return len(later)


def urgent_meeting(unit: Unit, case: Case, start: datetime) -> None:
    """§4.4: the urgent meeting agreed by phone, in the strategy calendar at its time, outside the rota."""
    setup = unit.setup
    end = start + timedelta(minutes=setup.policy.urgent.meeting_minutes)
    uid = f"{case.case_id}.urgent@{setup.config.bot.message_id_domain}"
    event = event_for(setup, case, start, end, 0, uid=uid, urgent=True)
    # A retry after a crash finds the event it made; a later time agreed moves it.
    already = setup.calendar.booked(uid)
    _keep(unit, event, already)
    booking = _recorded(unit, case, event)
    log.info("case %s urgent meeting %s", case.case_id, start.isoformat())
    unit.decide(case, MeetingBooked(booking), event)
