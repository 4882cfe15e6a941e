"""What the bot does to a case inside one transaction: book, move, cancel, chase, and fire its timers."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from bot.domain.case_states import can_move
from bot.domain.case_commands import COMMANDS
from bot.domain.commands import Command

COMMAND_WORDS = {rule.usage: rule.meaning for rule in COMMANDS.values()}
from bot.domain.deadlines import Deadline, booking_deadlines, minutes_deadlines, outcome_deadlines, urgent_ladder
from bot.domain.model import (
    Attachment,
    Booking,
    CalendarEvent,
    Case,
    CaseState,
    Interval,
    Kind,
    OutgoingEmail,
    wall_clock,
)
from bot.domain.records import TimerRow
from bot.domain.slots import SlotChoice, booking_length, next_slot_after
from bot.errors import SlotTaken
from bot.mail.invitation import invitation
from bot.ports import StoreTransaction

if TYPE_CHECKING:
    from bot.service import Handled, StrategyService

log = logging.getLogger(__name__)

BOOKING_TIMERS = ("reminder_day_before", "reminder_30_min", "minutes_template", "minutes_reminder", "minutes_overdue")
LADDER = ("escalation_60", "escalation_90")
MINUTES_TIMERS = ("minutes_reminder", "minutes_overdue")
# The replies that go back to whoever wrote, and so could feed a mail loop.
SHORT_REPLIES = ("triage_reply", "command_help", "missing_information")


class CaseWork:
    """One unit of work on cases: every email it sends and every change it makes commit together."""

    def __init__(
        self, service: StrategyService, tx: StoreTransaction, now: datetime, result: Handled, in_reply_to: str | None
    ) -> None:
        self.s = service
        self.cfg = service.config
        self.tx = tx
        self.now = now
        self.result = result
        self.in_reply_to = in_reply_to
        self.actor = "bot"

    # -- mail and history ------------------------------------------------------------------

    def send(
        self,
        purpose: str,
        case: Case | None,
        to: Sequence[str],
        cc: Sequence[str],
        context: dict[str, Any],
        attachments: tuple[Attachment, ...] = (),
        key: str | None = None,
    ) -> OutgoingEmail:
        out = self.s.compose(
            self.tx, purpose, case, to, cc, context, self.now, self.in_reply_to, attachments=attachments, key=key
        )
        self.result.emails.append(out)
        return out

    def local(self, moment: datetime) -> str:
        """A time as the history shows it: London wall time, as people will read it."""
        return wall_clock(moment, self.s.tz)

    def note(self, case: Case | None, action: str, detail: str = "") -> None:
        self.tx.add_history(case.case_id if case else None, self.now, self.actor, action, detail, self.in_reply_to)

    def schedule(self, case: Case, deadlines: Sequence[Deadline]) -> None:
        for deadline in deadlines:
            key = f"{case.case_id}:{deadline.purpose}:{deadline.detail}:{deadline.due.isoformat()}"
            self.tx.add_timer(key, case.case_id, deadline.purpose, deadline.due, deadline.detail)

    def attendees(self, case: Case) -> tuple[list[str], list[str]]:
        """(invited, left out): the TM/PM, health rep and professionals, split by allowed domains (§7)."""
        details = case.details
        invitees = unique([details.health_rep or "", *details.invitees])
        allowed = [a for a in invitees if self.s.allowed_recipient(a)]
        left_out = [a for a in invitees if not self.s.allowed_recipient(a)]
        return unique([details.requester.email or "", *allowed]), left_out

    def meeting_context(self, booking: Booking, complex_case: bool) -> dict[str, Any]:
        tz = self.s.tz
        return {
            "start": booking.start.astimezone(tz),
            "end": booking.end.astimezone(tz),
            "minutes": int((booking.end - booking.start).total_seconds() // 60),
            "complex": complex_case,
            "dial_in": self.cfg.conference.dial_in,
            "passcode": self.cfg.conference.passcode,
        }

    # -- booking (§3) -------------------------------------------------------------------------

    def book(self, case: Case, received: datetime, urgent_indicators: list[str]) -> None:
        """§3.3–3.6: the next proper slot, the event, the confirmation, the timescale check."""
        details = case.details
        # A retry after a crash between the calendar's write and our commit finds its own
        # event there: the slot is chosen as if it were free, and the event kept to it.
        already = self.s.calendar.booked(self.s.event_uid(case))
        choice = self.s.find_slot(received, details.complex, self.now, own=already)
        if choice is None:
            self.no_slot(case)
            return
        attendees, left_out = self.attendees(case)
        event = self.s.event_for(case, choice.start, choice.end, attendees, sequence=0)
        try:
            self._keep(event, already)
        except SlotTaken:
            # Someone booked by hand between our look and our write: look again once.
            choice = self.s.find_slot(received, details.complex, self.now, own=already)
            if choice is None:
                self.no_slot(case)
                return
            event = self.s.event_for(case, choice.start, choice.end, attendees, sequence=0)
            self._keep(event, already)
        booking = Booking(case.case_id, event.uid, choice.start, choice.end)
        self.tx.add_booking(booking)
        self.tx.update_case(case.case_id, self.now, state=CaseState.BOOKED, effective_day=choice.effective_day)
        self.note(case, "booked", f"{self.local(choice.start)} {event.subject}")
        self.schedule(case, booking_deadlines(choice.start, choice.end, self.cfg.timers, self.s.days, self.s.tz))
        self.result.booked.append((case.case_id, event))
        log.info("case %s %s booked %s", case.case_id, ",".join(details.n_numbers), choice.start.isoformat())
        self.confirm(case, event, booking, left_out, urgent_indicators, choice)
        if not choice.within_timescale:
            self.timescale_notice(case, choice)

    def _keep(self, event: CalendarEvent, already: Interval | None) -> None:
        """Put the event in the calendar: booked, or, when it is there already (made before a
        crash, not yet recorded), moved to these times if it has others."""
        if already is None:
            self.s.calendar.book(event)
        elif already != Interval(event.start, event.end):
            self.s.calendar.move(event)

    def confirm(
        self,
        case: Case,
        event: CalendarEvent,
        booking: Booking,
        left_out: list[str],
        urgent_indicators: list[str],
        choice: SlotChoice | None = None,
        check_timescale: bool = True,
    ) -> None:
        """§3.6: the confirmation with its invitation, to the TM/PM, copied to everyone invited.

        ``check_timescale`` is off for a mobile family's new discussion: its 72 hours are
        checked separately, not the referral's working days.
        """
        details = case.details
        invited = [a for a in event.attendees if a != details.requester.email]
        schedule = self.cfg.schedule
        deadline = (
            choice.deadline
            if choice
            else self.s.days.add_working_days(
                date.fromisoformat(case.effective_day) if case.effective_day else booking.start.date(),
                schedule.complex_timescale_working_days if details.complex else schedule.timescale_working_days,
            )
        )
        context = {
            **self.meeting_context(booking, details.complex),
            "surname": details.surname or "",
            "invitees": invited,
            "health_rep": details.health_rep if details.health_rep in invited else None,
            "quorum_note": _quorum_note(details.health_rep, invited),
            "left_out": left_out,
            "within_timescale": not check_timescale or booking.start.astimezone(self.s.tz).date() <= deadline,
            "deadline": deadline,
            "urgent_indicators": urgent_indicators,
        }
        cc = [*invited, *([self.cfg.people.referral_unit] if urgent_indicators else [])]
        attachments = self.invitation(event, "REQUEST")
        self.send("confirmation", case, (details.requester.email or "",), cc, context, attachments=attachments)

    def invitation(self, event: CalendarEvent, method: str) -> tuple[Attachment, ...]:
        """The iCalendar invitation to attach, unless the calendar (Exchange) sends its own."""
        if self.s.calendar.sends_invitations:
            return ()
        ics = invitation(event, method, self.s.tz, self.cfg.bot.display_name, self.now)
        name = "invite.ics" if method == "REQUEST" else "cancel.ics"
        return (Attachment(name, "text/calendar", ics, inline_alternative=True, params=(("method", method),)),)

    def timescale_notice(self, case: Case, choice: SlotChoice | None) -> None:
        schedule = self.cfg.schedule
        days = schedule.complex_timescale_working_days if case.details.complex else schedule.timescale_working_days
        context = {
            "start": choice.start.astimezone(self.s.tz) if choice else None,
            "end": choice.end.astimezone(self.s.tz) if choice else None,
            "effective_day": choice.effective_day if choice else self.now.astimezone(self.s.tz).date(),
            "deadline": choice.deadline if choice else None,
            "working_days": days,
            "hours": None,
            "complex": case.details.complex,
        }
        self.note(case, "timescale_at_risk")
        self.send(
            "timescale_at_risk",
            case,
            (case.details.requester.email or "",),
            (self.cfg.people.referral_unit,),
            context,
        )

    def no_slot(self, case: Case) -> None:
        """No free slot within the horizon (§3.3): the case goes to a person at the referral unit."""
        self.tx.update_case(case.case_id, self.now, state=CaseState.NEEDS_PERSON)
        self.note(case, "needs_person", "no free slot within the horizon")
        log.warning("case %s: no free slot within the horizon; passed to a person", case.case_id)
        self.timescale_notice(case, None)

    def start_urgent_ladder(self, case: Case, t0: datetime) -> None:
        self.schedule(case, urgent_ladder(t0, self.cfg.timers))

    # -- changes asked for in replies (§6) -----------------------------------------------------

    def apply(self, case: Case, command: Command, sender: str, has_attachment: bool) -> bool:
        """Carry out one command word; False when it does not apply to the case as it stands."""
        self.actor = sender
        word = command.word
        if word == "CONTACTED":
            return self.contacted(case)
        if word == "HELD":
            return self.held(case)
        if word == "CANCEL":
            return self.cancel(case, sender)
        if word in ("RESCHEDULE", "COMPLEX"):
            return self.move(case, make_complex=word == "COMPLEX")
        if word == "DELAY":
            return self.delay(case, command.minutes or 0)
        if word == "MINUTES SHARED":
            return self.minutes_recorded(case, "MINUTES SHARED")
        if word == "OUTCOME":
            return self.outcome(case, command.outcome or "")
        if word == "MOVED":
            return self.family_moved(case, command.invitees)
        return False

    def contacted(self, case: Case) -> bool:
        if case.kind is not Kind.URGENT or not can_move(case.state, CaseState.CONTACTED):
            return False
        self.tx.update_case(case.case_id, self.now, state=CaseState.CONTACTED)
        stopped = self.tx.cancel_timers(case.case_id, LADDER)
        self.note(case, "contacted", f"police contact recorded; {stopped} escalation(s) stopped")
        log.info("case %s: police contact recorded", case.case_id)
        # §4.4: on an urgent case the minutes template goes when contact is recorded.
        self.minutes_pack(case, self.now, (self.cfg.people.duty_ds,))
        return True

    def held(self, case: Case) -> bool:
        if not can_move(case.state, CaseState.HELD):
            return False
        self.tx.update_case(case.case_id, self.now, state=CaseState.HELD)
        self.tx.cancel_timers(case.case_id, LADDER)
        if case.kind is Kind.URGENT:
            # Urgent: the minutes clock starts when the meeting is recorded as held (§5).
            self.schedule(case, minutes_deadlines(self.now, self.cfg.timers, self.s.days, self.s.tz))
        self.note(case, "held")
        return True

    def cancel(self, case: Case, by: str) -> bool:
        if not can_move(case.state, CaseState.CANCELLED):
            return False
        booking = self.tx.booking_for(case.case_id)
        self.tx.update_case(case.case_id, self.now, state=CaseState.CANCELLED)
        self.tx.cancel_timers(case.case_id)
        self.note(case, "cancelled")
        log.info("case %s cancelled", case.case_id)
        if booking is None:
            return True
        attendees, _ = self.attendees(case)
        event = self.s.event_for(case, booking.start, booking.end, attendees, booking.sequence + 1, uid=booking.uid)
        self.s.calendar.cancel(booking.uid)
        self.tx.set_booking(case.case_id, booking.start, booking.end, booking.sequence + 1, "cancelled")
        self.result.cancelled.append((case.case_id, event))
        context = {
            "start": booking.start.astimezone(self.s.tz),
            "end": booking.end.astimezone(self.s.tz),
            "cancelled_by": by,
        }
        attachments = self.invitation(event, "CANCEL")
        self.send("cancellation", case, attendees[:1], attendees[1:], context, attachments=attachments)
        return True

    def move(self, case: Case, make_complex: bool) -> bool:
        """RESCHEDULE: the next free slot after the current one. COMPLEX: 30 minutes, in place if it fits."""
        booking = self.tx.booking_for(case.case_id)
        if booking is None or case.state is not CaseState.BOOKED:
            return False
        details = replace(case.details, complex=True) if make_complex else case.details
        minutes = booking_length(details.complex, self.cfg.schedule)
        tz = self.s.tz

        def intervals(day: date) -> list[Interval]:
            start = datetime.combine(day, time(0), tzinfo=tz)
            events = self.s.calendar.events(start, start + timedelta(days=1))
            return [Interval(e.start, e.end) for e in events if e.uid != booking.uid]

        new_start = next_slot_after(
            booking.start, minutes, intervals, self.cfg.schedule, self.s.days, tz, same_start_allowed=make_complex
        )
        if new_start is None:
            return False
        case = replace(case, details=details)
        if make_complex:
            self.tx.update_case(case.case_id, self.now, details=details)
        new_end = new_start + timedelta(minutes=minutes)
        attendees, left_out = self.attendees(case)
        event = self.s.event_for(case, new_start, new_end, attendees, booking.sequence + 1, uid=booking.uid)
        self.s.calendar.move(event)
        moved = Booking(case.case_id, booking.uid, new_start, new_end, booking.sequence + 1)
        self.tx.set_booking(case.case_id, new_start, new_end, moved.sequence, "booked")
        self.tx.cancel_timers(case.case_id, BOOKING_TIMERS)
        self.schedule(case, booking_deadlines(new_start, new_end, self.cfg.timers, self.s.days, tz))
        self.note(case, "moved", f"{self.local(booking.start)} -> {self.local(new_start)}")
        self.result.moved.append((case.case_id, event))
        log.info("case %s moved to %s", case.case_id, new_start.isoformat())
        self.confirm(case, event, moved, left_out, [])
        return True

    def family_moved(self, case: Case, invitees: tuple[str, ...]) -> bool:
        """§5 Mobile families: a new strategy discussion within 72 hours, with the receiving authority invited."""
        if case.state in (CaseState.CANCELLED, CaseState.CLOSED):
            return False
        details = replace(case.details, invitees=tuple(unique([*case.details.invitees, *invitees])))
        case = replace(case, details=details, state=CaseState.BOOKED)
        self.tx.update_case(case.case_id, self.now, state=CaseState.BOOKED, details=details)
        tz = self.s.tz
        minutes = booking_length(details.complex, self.cfg.schedule)

        # Named after the message that said the family moved, so a retry of that message finds
        # the event it made rather than making another.
        moved_by = hashlib.sha256((self.in_reply_to or self.now.isoformat()).encode()).hexdigest()[:16]
        uid = f"{case.case_id}.moved.{moved_by}@{self.cfg.bot.message_id_domain}"
        already = self.s.calendar.booked(uid)

        def intervals(day: date) -> list[Interval]:
            start = datetime.combine(day, time(0), tzinfo=tz)
            return [i for i in self.s.calendar.busy(start, start + timedelta(days=1)) if i != already]

        # From the next day: police need time for their research, as for any booked slot.
        tomorrow = datetime.combine(self.now.astimezone(tz).date() + timedelta(days=1), time(0), tzinfo=tz)
        start = next_slot_after(
            tomorrow, minutes, intervals, self.cfg.schedule, self.s.days, tz, same_start_allowed=True
        )
        self.note(case, "family_moved", f"{len(invitees)} invitee(s) added")
        if start is None:
            self.no_slot(case)
            return True
        end = start + timedelta(minutes=minutes)
        previous = self.tx.booking_for(case.case_id)
        if previous is not None:
            self.tx.set_booking(case.case_id, previous.start, previous.end, previous.sequence, "superseded")
        attendees, left_out = self.attendees(case)
        event = self.s.event_for(case, start, end, attendees, 0, uid=uid)
        self._keep(event, already)
        booking = Booking(case.case_id, uid, start, end)
        self.tx.add_booking(booking)
        self.tx.cancel_timers(case.case_id, BOOKING_TIMERS)
        self.schedule(case, booking_deadlines(start, end, self.cfg.timers, self.s.days, tz))
        self.result.booked.append((case.case_id, event))
        self.note(case, "booked", f"{self.local(start)} {event.subject} (mobile family)")
        self.confirm(case, event, booking, left_out, [], check_timescale=False)
        due = self.now + timedelta(hours=self.cfg.timers.mobile_family_hours)
        if start > due:
            context = {
                "start": start.astimezone(tz),
                "end": end.astimezone(tz),
                "effective_day": self.now.astimezone(tz).date(),
                "deadline": due.astimezone(tz).date(),
                "working_days": None,
                "hours": self.cfg.timers.mobile_family_hours,
                "complex": details.complex,
            }
            self.note(case, "timescale_at_risk", "mobile family")
            people = self.cfg.people
            self.send("timescale_at_risk", case, (details.requester.email or "",), (people.referral_unit,), context)
        return True

    def delay(self, case: Case, minutes: int) -> bool:
        """§5 Overrun: every TM/PM booked later that day is told of a potential delay."""
        booking = self.tx.booking_for(case.case_id)
        anchor = booking.start if booking else self.now
        local = anchor.astimezone(self.s.tz)
        day_end = datetime.combine(local.date(), time(23, 59), tzinfo=self.s.tz)
        later = [b for b in self.tx.bookings_between(anchor, day_end) if b.start > anchor and b.case_id != case.case_id]
        for other in later:
            other_case = self.tx.case(other.case_id)
            if other_case is None:
                continue
            context = {**self.meeting_context(other, other_case.details.complex), "delay_minutes": minutes}
            self.send("delay_notice", other_case, (other_case.details.requester.email or "",), (), context)
        self.note(case, "delay", f"{minutes} minutes; {len(later)} later booking(s) told")
        return True

    def minutes_recorded(self, case: Case, how: str) -> bool:
        stopped = self.tx.cancel_timers(case.case_id, MINUTES_TIMERS)
        self.note(case, "minutes_recorded", f"{how}; {stopped} reminder(s) stopped")
        return True

    def outcome(self, case: Case, outcome: str) -> bool:
        self.note(case, "outcome", outcome)
        if outcome in ("joint S47", "single S47"):
            booking = self.tx.booking_for(case.case_id)
            held_on = (booking.start if booking else self.now).astimezone(self.s.tz).date()
            self.schedule(case, outcome_deadlines(held_on, self.cfg.timers, self.s.days, self.s.tz))
        return True

    def command_help(self, case: Case | None, to: str, reason: str) -> None:
        if not self.may_answer(case, to):
            return
        words = [SimpleNamespace(word=w, meaning=m) for w, m in COMMAND_WORDS.items()]
        self.send("command_help", case, (to,), (), {"reason": reason, "words": words})

    def may_answer(self, case: Case | None, sender: str) -> bool:
        """Loop protection (issue 6): short replies are capped per sender per hour and overall per minute.

        A mail system that answers every reply without marking itself automatic would
        otherwise keep the two machines writing to each other all night.
        """
        trust = self.cfg.trust
        per_sender = self.tx.count_recent_emails(SHORT_REPLIES, self.now - timedelta(hours=1), sender)
        overall = self.tx.count_recent_emails(SHORT_REPLIES, self.now - timedelta(minutes=1))
        if per_sender < trust.max_replies_per_sender_per_hour and overall < trust.max_replies_per_minute:
            return True
        why = "sender limit" if per_sender >= trust.max_replies_per_sender_per_hour else "circuit breaker open"
        self.note(case, "reply_suppressed", why)
        log.warning("short reply not sent: %s", why)
        return False

    # -- the minutes pack (§5) ------------------------------------------------------------------

    def minutes_pack(self, case: Case, start: datetime, extra_to: Sequence[str]) -> None:
        from bot.mail.minutes_pack import MinutesPack, minutes_context, minutes_document, minutes_filename

        details = case.details
        attendees, _ = self.attendees(case)
        pack = MinutesPack(
            case_id=case.case_id,
            n_numbers=details.n_numbers,
            surname=details.surname,
            children=details.children,
            address=details.address,
            presenting_issue=details.reason,
            meeting_start=start.astimezone(self.s.tz),
            venue=self.cfg.conference.venue,
            attendees=tuple((a, _organisation(a)) for a in attendees),
            requester_name=details.requester.name,
            requester_role=details.requester.role,
            urgent=case.kind is Kind.URGENT,
        )
        document = Attachment(
            minutes_filename(pack),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            minutes_document(pack),
        )
        to = [details.requester.email or "", *extra_to]
        self.send("minutes_template", case, to, (), minutes_context(pack), attachments=(document,))

    # -- timers ---------------------------------------------------------------------------------

    def fire(self, timer: TimerRow, case: Case | None) -> bool:
        """Send what a due timer stands for; False when the case no longer needs it."""
        purpose = timer.purpose
        people = self.cfg.people
        if purpose == "daily_agenda":
            self.daily_agenda(timer.due_at)
            return True
        if case is None:
            return False
        requester = case.details.requester.email or ""
        t0 = case.clock_start or case.received_at
        if purpose in LADDER:
            if case.state is not CaseState.AWAITING_CONTACT:
                return False
            context = {
                "clock_start": t0.astimezone(self.s.tz),
                "callback_by": (t0 + timedelta(minutes=self.cfg.urgent.callback_minutes)).astimezone(self.s.tz),
                "minutes_since": int((timer.due_at - t0).total_seconds() // 60),
            }
            if purpose == "escalation_60":
                context |= {"ds_contacts": list(people.ds_contacts), "admin_support_phone": people.admin_support_phone}
                self.send(purpose, case, (requester,), (people.duty_ds, people.referral_unit), context)
            else:
                context |= {"mash_manager": people.mash_manager, "phone": case.details.requester.phone}
                self.send(purpose, case, (people.admin_support,), (requester,), context)
            log.warning("case %s: %s sent, no police contact recorded", case.case_id, purpose)
            return True
        booking = self.tx.booking_for(case.case_id)
        if purpose in ("reminder_day_before", "reminder_30_min", "minutes_template"):
            if booking is None or case.state is not CaseState.BOOKED:
                return False
            if purpose == "minutes_template":
                self.minutes_pack(case, booking.start, ())
                return True
            attendees, _ = self.attendees(case)
            context = self.meeting_context(booking, case.details.complex)
            self.send(purpose, case, attendees[:1], attendees[1:], context)
            return True
        if purpose in MINUTES_TIMERS:
            start = booking.start if booking else t0
            context = {"start": start.astimezone(self.s.tz), "due": self._minutes_due(case, timer)}
            cc = (people.referral_unit,) if purpose == "minutes_overdue" else ()
            self.send(purpose, case, (requester,), cc, context)
            return True
        if purpose in ("s47_outcome_due", "icpc_due"):
            held_on = (booking.start if booking else t0).astimezone(self.s.tz).date()
            timers = self.cfg.timers
            later: dict[str, Any] = {"discussion_day": held_on, "outcome": self._outcome(case)}
            if purpose == "s47_outcome_due":
                later["due_day"] = timer.due_at.astimezone(self.s.tz).date()
                self.send(purpose, case, (requester,), (), later)
            else:
                later["icpc_by"] = self.s.days.add_working_days(held_on, timers.icpc_due_working_days)
                later["days_left"] = int(timer.detail or 0)
                self.send(purpose, case, (requester,), (people.referral_unit,), later)
            return True
        return False

    def _minutes_due(self, case: Case, timer: TimerRow) -> datetime:
        if timer.purpose == "minutes_overdue":
            return timer.due_at.astimezone(self.s.tz)
        for pending in self.tx.pending_timers():
            if pending.case_id == case.case_id and pending.purpose == "minutes_overdue":
                return pending.due_at.astimezone(self.s.tz)
        return timer.due_at.astimezone(self.s.tz)

    def _outcome(self, case: Case) -> str:
        outcomes = [h.detail for h in self.tx.history(case.case_id) if h.action == "outcome"]
        return outcomes[-1] if outcomes else ""

    def daily_agenda(self, due: datetime) -> None:
        """§5: the day's discussions for the referral unit: time, N numbers, TM/PM and phone, complex."""
        tz = self.s.tz
        day = due.astimezone(tz).date()
        start = datetime.combine(day, time(0), tzinfo=tz)
        entries = []
        for booking in self.tx.bookings_between(start, start + timedelta(days=1)):
            case = self.tx.case(booking.case_id)
            if case is None:
                continue
            entries.append(
                SimpleNamespace(
                    start=booking.start.astimezone(tz),
                    end=booking.end.astimezone(tz),
                    n_numbers=", ".join(case.details.n_numbers),
                    case_id=case.case_id,
                    requester_name=case.details.requester.name,
                    requester_role=case.details.requester.role,
                    phone=case.details.requester.phone,
                    complex=case.details.complex,
                )
            )
        context = {"day": day, "entries": entries}
        self.send("daily_agenda", None, (self.cfg.people.referral_unit,), (), context, key=f"agenda:{day}")


def _quorum_note(health_rep: str | None, invited: Sequence[str]) -> str | None:
    if not health_rep or health_rep not in invited:
        return (
            "No health representative has been invited, so the discussion may not be quorate. "
            "Please invite one, or record why at item 1 of the agenda."
        )
    return None


def _organisation(address: str) -> str:
    return address.rsplit("@", 1)[-1]


def unique(items: Any) -> list[str]:
    """The truthy items, each once, in order."""
    return list(dict.fromkeys(i for i in items if i))
