"""Handling one incoming email: the domain's decision and its effects, in one transaction."""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

from jinja2 import TemplateError

from bot.adapters.sql_store import SqlStore
from bot.case_work import CaseWork, unique
from bot.config import Config
from bot.domain.case_states import check_transition
from bot.domain.classify import (
    classify,
    date_header,
    dmarc_passes,
    sender_address,
    strip_reply_prefixes,
    thread_references,
)
from bot.domain.case_commands import entitled, who_may
from bot.domain.commands import Command, NotUnderstood, read_command
from bot.domain.deadlines import next_agenda
from bot.domain.message_text import message_text
from bot.domain.model import (
    Attachment,
    CalendarEvent,
    Case,
    CaseState,
    Interval,
    Kind,
    OutgoingEmail,
    RequestDetails,
    wall_clock,
)
from bot.domain.n_numbers import find_n_numbers
from bot.domain.quoted_text import strip_quoted
from bot.domain.records import QueuedEmail, TimerRow
from bot.domain.request_reading import read_request
from bot.domain.slots import SlotChoice, choose_slot
from bot.domain.trust import domain_allowed
from bot.domain.urgent_clock import callback_due, clock_start
from bot.domain.urgent_screening import URGENT_CRITERIA, screen_urgent_indicators
from bot.domain.working_days import WorkingDays
from bot.errors import BotError
from bot.mail.limits import over_limits
from bot.mail.rendering import MailRenderer, build_message
from bot.ports import Folder, IncomingMail, StoreTransaction, StrategyCalendar
from bot.reading_limit import read_ahead, too_slow

log = logging.getLogger(__name__)

# What the bot asks for when a required field is missing (domain.md §2): the words the
# TM/PM reads, and the template label they copy into their reply.
MISSING_FIELD_WORDING: dict[str, tuple[str, str]] = {
    "n_number": ("the child's N number (for example N146782)", "N number:"),
    "surname": ("the children's surname", "Children's surname:"),
    "requester_name": ("your name and role (Team Manager or Practice Manager)", "Requesting manager:"),
    "contact_number": ("a contact number", "Contact number:"),
    "reason": ("the reason for the strategy discussion", "Reason for strategy discussion:"),
}

OUTCOME_FOLDER = {
    "processed": Folder.PROCESSED,
    "ignored": Folder.PROCESSED,
    "triage": Folder.TRIAGE,
    "quarantine": Folder.QUARANTINE,
}


@dataclass
class Handled:
    """What handling one message did: for the daemon's move, the log and `replay`."""

    message_id: str
    kind: str  # urgent, standard, reply, auto, unrecognised; "timer" for a deadline
    outcome: str  # processed, triage, quarantine, ignored
    case_id: str | None = None
    reason: str | None = None
    duplicate: bool = False
    booked: list[tuple[str, CalendarEvent]] = field(default_factory=list)
    moved: list[tuple[str, CalendarEvent]] = field(default_factory=list)
    cancelled: list[tuple[str, CalendarEvent]] = field(default_factory=list)
    emails: list[OutgoingEmail] = field(default_factory=list)
    late: bool = False

    @property
    def folder(self) -> Folder:
        return OUTCOME_FOLDER[self.outcome]


class StrategyService:
    """The use cases of domain.md §1–§4 over the ports; ``now`` is always passed in."""

    def __init__(
        self,
        config: Config,
        store: SqlStore,
        calendar: StrategyCalendar,
        renderer: MailRenderer,
        days: WorkingDays | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.calendar = calendar
        self.renderer = renderer
        self.days = days or WorkingDays.from_schedule(config.schedule)
        self.tz = config.bot.timezone
        self.own_addresses = {config.bot.address, config.bot.x_loop}
        self.police_domain = config.people.referral_unit.rsplit("@", 1)[1]

    # -- intake ----------------------------------------------------------------------------

    def read_ahead(self, batch: list[IncomingMail]) -> None:
        """Start the time-limited reading of a batch (``inbox.parse_seconds``) ahead of its handling."""
        if self.config.inbox.parse_seconds > 0:
            read_ahead([mail.raw for mail in batch if not mail.oversized])

    def handle(self, mail: IncomingMail, now: datetime) -> Handled:
        """Handle one message in one transaction; any failure quarantines it and tells the admin."""
        content_hash = hashlib.sha256(mail.raw).hexdigest()
        message_id = f"<sha256-{content_hash[:32]}@no-message-id>"
        # First, before anything here parses it: a message that does not read in time is
        # quarantined unread (by its content hash; a second delivery is recognised by it).
        slow = None if mail.oversized else too_slow(mail.raw, self.config.inbox.parse_seconds)
        if slow:
            return self._quarantine(mail, message_id, content_hash, now, slow)
        try:
            msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            message_id = _message_id(msg) or message_id
            with self.store.transaction() as tx:
                seen = tx.seen_message(message_id, content_hash)
                if seen is not None:
                    log.info("message already handled (%s); not acted on again", seen.outcome)
                    return Handled(message_id, seen.kind, seen.outcome, seen.case_id, seen.reason, duplicate=True)
                inbox = self.config.inbox
                if mail.oversized:
                    raise _Quarantine(f"message larger than inbox.max_message_bytes ({inbox.max_message_bytes} bytes)")
                too_complex = over_limits(msg, inbox.max_headers, inbox.max_mime_parts, inbox.max_mime_depth)
                if too_complex:
                    raise _Quarantine(f"message not read: {too_complex}")
                result = _Work(self, tx, msg, mail, message_id, now).run()
                tx.record_message(
                    message_id,
                    content_hash,
                    mail.received_at,
                    now,
                    result.kind,
                    result.outcome,
                    result.reason,
                    result.case_id,
                )
        except _Quarantine as exc:
            return self._quarantine(mail, message_id, content_hash, now, str(exc), exc.case_id)
        except Exception as exc:  # noqa: BLE001 - one bad message must never stop the daemon
            # The exception's text may quote the message: only its type goes in the log, and
            # in the history and the notice only what our own errors say.
            log.error("message could not be handled: %s; quarantined", type(exc).__name__)
            log.debug("handling failed", exc_info=True)
            reason = f"the bot could not handle it ({_error_for_admin(exc)})"
            return self._quarantine(mail, message_id, content_hash, now, reason)
        _log_handled(result)
        return result

    def _quarantine(
        self,
        mail: IncomingMail,
        message_id: str,
        content_hash: str,
        now: datetime,
        reason: str,
        case_id: str | None = None,
    ) -> Handled:
        result = Handled(message_id, "unrecognised", "quarantine", case_id, reason=reason)
        with self.store.transaction() as tx:
            seen = tx.seen_message(message_id, content_hash)
            if seen is not None:
                return Handled(message_id, seen.kind, seen.outcome, seen.case_id, seen.reason, duplicate=True)
            context = {
                "reason": reason,
                "message_id": message_id,
                "received_at": mail.received_at.astimezone(self.tz),
                "folder": self.config.inbox.quarantine_folder,
            }
            notices = tx.count_recent_emails(("quarantine_notice",), now - timedelta(hours=1))
            if notices < self.config.trust.max_quarantine_notices_per_hour:
                out = self.compose(
                    tx, "quarantine_notice", None, (self.config.people.administrator,), (), context, now, key=message_id
                )
                result.emails.append(out)
            else:
                self._flood_alert(tx, notices, now)
            tx.record_message(
                message_id, content_hash, mail.received_at, now, result.kind, "quarantine", reason, case_id
            )
            tx.add_history(case_id, now, "bot", "quarantined", reason, message_id)
        log.warning("message quarantined: %s", reason.split(":", 1)[0])
        return result

    def _flood_alert(self, tx: StoreTransaction, notices: int, now: datetime) -> None:
        """A flood of bad mail: one alert stands for the rest of the hour's notices."""
        limit = self.config.trust.max_quarantine_notices_per_hour
        self._alert(
            tx,
            f"quarantine flood {now.astimezone(self.tz):%Y-%m-%d %H}",
            "Many messages are being quarantined: notices held back for this hour",
            [
                ("Notices this hour", str(notices)),
                ("Limit", f"{limit} (trust.max_quarantine_notices_per_hour)"),
                ("Folder", self.config.inbox.quarantine_folder),
            ],
            "Every message is still in the Quarantine folder: please look there, and at where the mail comes from.",
            now,
        )

    def alert_admin(
        self, key: str, headline: str, details: Sequence[tuple[str, str]], action: str, now: datetime
    ) -> None:
        """An ``admin_alert`` to the administrator: the bot's own trouble (mail server silent, mail refused).

        ``key`` makes the Message-ID, so the same alert queued twice is one email; it and the
        details carry ids and server names only, never personal data.
        """
        with self.store.transaction() as tx:
            self._alert(tx, key, headline, details, action, now)

    def _alert(
        self,
        tx: StoreTransaction,
        key: str,
        headline: str,
        details: Sequence[tuple[str, str]],
        action: str,
        now: datetime,
    ) -> None:
        if tx.email_queued(self._alert_id(key)):
            return
        context = {"headline": headline, "details": list(details), "action": action}
        self.compose(tx, "admin_alert", None, (self.config.people.administrator,), (), context, now, key=key)
        tx.add_history(None, now, "bot", "admin_alerted", headline[:200])
        log.warning("administrator alerted: %s", headline)

    def purge(self, now: datetime) -> tuple[int, int]:
        """Issue 6: personal details of cases finished ``privacy.retention_days`` ago, and old emails, removed.

        The purge is recorded in each case's history and in the log by case id and count
        only; what was purged is gone. Returns (cases, emails) purged.
        """
        before = now - timedelta(days=self.config.privacy.retention_days)
        with self.store.transaction() as tx:
            case_ids = tx.purgeable_cases(before)
            for case_id in case_ids:
                tx.purge_case(case_id, now)
                tx.add_history(case_id, now, "bot", "purged", "personal details and stored emails removed")
            emails = tx.purge_old_emails(before)
            if case_ids or emails:
                tx.add_history(None, now, "bot", "purged", f"{len(case_ids)} cases, {emails} stored emails")
        if case_ids or emails:
            log.info("purged personal details of %d cases and %d stored emails", len(case_ids), emails)
        return len(case_ids), emails

    def email_refused(self, queued: QueuedEmail, reason: str, now: datetime) -> None:
        """A mail server refused one of our emails for good: the administrator hears which and why."""
        if queued.purpose == "admin_alert":
            return  # the administrator's own address refused: an alert about it would loop
        self.alert_admin(
            f"refused {queued.message_id}",
            f"An email from the bot was refused by the mail server: {queued.purpose}",
            [
                ("Case", queued.case_id or "none"),
                ("Email", queued.purpose),
                ("Message-ID", queued.message_id),
                ("Reason", _one_line(reason)[:300]),
            ],
            "It will not be retried. Please check the recipients and send the case's news by hand if it matters.",
            now,
        )

    def _alert_id(self, key: str) -> str:
        return f"<admin_alert.{hashlib.sha256(key.encode()).hexdigest()[:24]}@{self.config.bot.message_id_domain}>"

    # -- timers ------------------------------------------------------------------------------

    def ensure_agenda(self, now: datetime) -> None:
        """Keep one daily agenda timer pending: the next meeting day at 09:00 (§5)."""
        due = next_agenda(now, self.config.schedule, self.config.timers, self.days, self.tz)
        with self.store.transaction() as tx:
            tx.add_timer(f"agenda:{due.date().isoformat()}", None, "daily_agenda", due)

    def due_timers(self, now: datetime) -> list[TimerRow]:
        with self.store.transaction() as tx:
            return tx.due_timers(now)

    def handle_due(self, timer_id: int, now: datetime) -> Handled | None:
        """Fire one due timer in one transaction, exactly once; late when past its time (issue 3 §1)."""
        try:
            with self.store.transaction() as tx:
                timer = tx.timer(timer_id)
                if timer is None or timer.status != "pending":
                    return None
                late = (now - timer.due_at).total_seconds() > self.config.timers.late_after_seconds
                tx.mark_timer_fired(timer.id, now, late)
                case = tx.case(timer.case_id) if timer.case_id else None
                result = Handled(f"timer:{timer.key}", "timer", "processed", timer.case_id, timer.purpose, late=late)
                work = CaseWork(self, tx, now, result, None)
                sent = work.fire(timer, case)
                lateness = f" late by {int((now - timer.due_at).total_seconds() // 60)} min" if late else ""
                work.note(case, "timer_fired" if sent else "timer_not_needed", f"{timer.purpose}{lateness}")
        except Exception as exc:  # noqa: BLE001 - a timer that cannot fire must not stop the others
            log.error("timer %d could not fire: %s", timer_id, type(exc).__name__)
            log.debug("timer failed", exc_info=True)
            self._timer_failed(timer_id, _error_for_admin(exc), now)
            return None
        if timer.purpose == "daily_agenda":
            self.ensure_agenda(now if now > timer.due_at else timer.due_at)
        log.info(
            "timer %s for case %s fired%s: %d email(s)",
            timer.purpose,
            timer.case_id or "-",
            " late" if late else "",
            len(result.emails),
        )
        return result

    def _timer_failed(self, timer_id: int, error: str, now: datetime) -> None:
        """A timer that raised is marked failed, kept in the case's history, and the admin is told.

        A failed escalation or reminder means a person must do by hand what the bot did not,
        so a log line alone is not enough. If the store itself is what failed, the alert
        cannot be queued either; the log line is then all there is.
        """
        try:
            with self.store.transaction() as tx:
                tx.fail_timer(timer_id, now, error)
                timer = tx.timer(timer_id)
                case_id = timer.case_id if timer else None
                tx.add_history(case_id, now, "bot", "timer_failed", f"timer {timer_id}: {error}")
            purpose = timer.purpose if timer else "unknown"
            due = wall_clock(timer.due_at, self.tz) if timer else "unknown"
            self.alert_admin(
                f"timer failed {timer_id}",
                f"A timer could not fire: {purpose}",
                [("Case", case_id or "none"), ("Timer", purpose), ("Due", due), ("Error", error)],
                "Nothing was sent for it and it will not be tried again. Please do by hand what it stands for. "
                + (f"`strategy-bot history {case_id}` shows the case; " if case_id else "")
                + "the bot's log shows the error.",
                now,
            )
        except Exception as exc:  # noqa: BLE001 - the loop goes on; the error is already logged
            log.error("timer %d: could not record the failure: %s", timer_id, type(exc).__name__)

    # -- outgoing mail ---------------------------------------------------------------------

    def base_context(self, case: Case | None) -> dict[str, Any]:
        details = case.details if case else RequestDetails()
        return {
            "bot_name": self.config.bot.display_name,
            "referral_unit_name": self.config.people.referral_unit_name,
            "referral_unit": self.config.people.referral_unit,
            "case_id": case.case_id if case else None,
            "n_numbers": list(details.n_numbers),
            "meeting_name": ", ".join(details.n_numbers),
            "requester": details.requester,
        }

    def allowed_recipient(self, address: str) -> bool:
        return domain_allowed(address, self.config.trust.recipient_domains)

    def compose(
        self,
        tx: StoreTransaction,
        purpose: str,
        case: Case | None,
        to: Sequence[str],
        cc: Sequence[str],
        context: dict[str, Any],
        now: datetime,
        in_reply_to: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        key: str | None = None,
    ) -> OutgoingEmail:
        """Render, address and queue one email in the outbox, in the caller's transaction.

        Recipients outside ``trust.recipient_domains`` are dropped (domain.md §7) and the
        drop is recorded. The Message-ID is derived from the case (or ``key``) and purpose so a
        resend is recognisable.
        """
        rendered = self.renderer.render(purpose, {**self.base_context(case), **context})
        allowed_to = unique(a for a in to if a and self.allowed_recipient(a))
        allowed_cc = unique(a for a in cc if a and self.allowed_recipient(a) and a not in allowed_to)
        dropped = [a for a in list(to) + list(cc) if a and not self.allowed_recipient(a)]
        case_id = case.case_id if case else None
        if case_id is not None:
            serial = tx.count_emails(case_id, purpose) + 1
            local = f"{case_id}.{purpose}.{serial}"
        else:
            local = f"{purpose}.{hashlib.sha256((key or '').encode()).hexdigest()[:24]}"
        references: tuple[str, ...] = ()
        if case is not None:
            references = tuple(unique([case.root_message_id, *([in_reply_to] if in_reply_to else [])]))
        elif in_reply_to:
            references = (in_reply_to,)
        out = OutgoingEmail(
            purpose=purpose,
            to=tuple(allowed_to),
            cc=tuple(allowed_cc),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=f"<{local}@{self.config.bot.message_id_domain}>",
            in_reply_to=in_reply_to,
            references=references,
            case_id=case_id,
            attachments=attachments,
        )
        if dropped:
            tx.add_history(
                case_id, now, "bot", "recipient_refused", f"{purpose}: {len(dropped)} outside allowed domains"
            )
        if not out.to and not out.cc:
            tx.add_history(case_id, now, "bot", "not_sent", f"{purpose}: no allowed recipient")
            return out
        raw = build_message(out, self.config.bot.display_name, self.config.bot.address, self.config.bot.x_loop, now)
        tx.queue_email(out, raw, now)
        tx.add_history(
            case_id, now, "bot", "email_queued", f"{purpose} to {', '.join(out.to + out.cc)}", out.message_id
        )
        return out

    # -- booking ---------------------------------------------------------------------------

    def event_for(
        self,
        case: Case,
        start: datetime,
        end: datetime,
        attendees: Sequence[str],
        sequence: int,
        uid: str | None = None,
    ) -> CalendarEvent:
        """The strategy calendar event of domain.md §3.5: N numbers in the subject, nothing else."""
        details = case.details
        body = self.renderer.render_text(
            "event_body.txt.j2",
            {
                **self.base_context(case),
                "surname": details.surname or "",
                "dial_in": self.config.conference.dial_in,
                "passcode": self.config.conference.passcode,
                "start": start.astimezone(self.tz),
                "end": end.astimezone(self.tz),
            },
        )
        return CalendarEvent(
            uid=uid or self.event_uid(case),
            subject="Strategy discussion " + ", ".join(details.n_numbers),
            start=start,
            end=end,
            body=body,
            location=f"{self.config.conference.venue}: {self.config.conference.dial_in}",
            attendees=tuple(attendees),
            organizer=self.config.bot.address,
            sequence=sequence,
            private=True,
        )

    def event_uid(self, case: Case) -> str:
        return f"{case.case_id}@{self.config.bot.message_id_domain}"

    def find_slot(
        self, received: datetime, complex_case: bool, now: datetime, own: Interval | None = None
    ) -> SlotChoice | None:
        """§3: the next proper slot; never in the past when a request is handled late (after an outage).

        ``own`` is the case's own event, already in the calendar: it does not count as busy.
        """

        def busy_on(day: date) -> list[Any]:
            start = datetime.combine(day, time(0), tzinfo=self.tz)
            return [i for i in self.calendar.busy(start, start + timedelta(days=1)) if i != own]

        schedule = self.config.schedule
        return choose_slot(received, complex_case, busy_on, schedule, self.days, self.tz, not_before=now)


class _Quarantine(Exception):
    """Raised inside handling to send a message to Quarantine with a plain reason."""

    def __init__(self, reason: str, case: Case | None = None) -> None:
        super().__init__(reason)
        self.case_id = case.case_id if case else None


class _Work(CaseWork):
    """Handling of one parsed message inside one open transaction."""

    def __init__(
        self,
        service: StrategyService,
        tx: StoreTransaction,
        msg: EmailMessage,
        mail: IncomingMail,
        message_id: str,
        now: datetime,
    ) -> None:
        super().__init__(service, tx, now, Handled(message_id, "unrecognised", "processed"), message_id)
        self.msg = msg
        self.mail = mail
        self.message_id = message_id

    def run(self) -> Handled:
        verdict = classify(self.msg, self.s.own_addresses)
        if verdict.kind is Kind.AUTO:
            self.note(None, "ignored", verdict.auto_reason or "")
            if verdict.auto_reason == "delivery status report":
                self._bounce_alert()
            return self._done("auto", "ignored", reason=verdict.auto_reason)
        _name, address = sender_address(self.msg)
        untrusted = self._untrusted_reason(address)
        if verdict.is_reply:
            case = self._case_in_thread()
            if case is not None:
                if untrusted:
                    raise _Quarantine(f"reply in case {case.case_id} from an untrusted sender: {untrusted}", case)
                return self._reply(case, address or "")
        if untrusted:
            # §7: whatever it asks, mail from outside the trusted senders is quarantined and
            # the administrator told; the claimed sender gets nothing.
            what = "message" if verdict.kind is Kind.UNRECOGNISED else "request"
            raise _Quarantine(f"{verdict.kind.value} {what} from an untrusted sender: {untrusted}")
        if verdict.kind is Kind.UNRECOGNISED:
            return self._unrecognised(address)
        details = read_request(self.msg, verdict.kind)
        if verdict.kind is Kind.URGENT:
            return self._urgent(details)
        return self._standard(details)

    def _done(self, kind: str, outcome: str, case: Case | None = None, reason: str | None = None) -> Handled:
        self.result.kind, self.result.outcome, self.result.reason = kind, outcome, reason
        self.result.case_id = case.case_id if case else None
        return self.result

    def _bounce_alert(self) -> None:
        """Issue 6: a bounce of the bot's own mail reaches the administrator; it never opens a case."""
        domain = re.escape(self.cfg.bot.message_id_domain)
        found = re.findall(rf"<[^<>\s]+@{domain}>", self.mail.raw.decode("ascii", "replace"))
        ours = [ref for ref in dict.fromkeys(found) if self.tx.email_purpose(ref)]
        if not ours:
            return
        case = self.tx.case_for_thread(ours)
        reason = f"delivery failure report for the bot's email {ours[0]}" + (f" (case {case.case_id})" if case else "")
        context = {
            "reason": reason,
            "message_id": self.message_id,
            "received_at": self.mail.received_at.astimezone(self.s.tz),
            "folder": self.cfg.inbox.processed_folder,
        }
        self.send("quarantine_notice", None, (self.cfg.people.administrator,), (), context, key=self.message_id)
        self.note(case, "bounce", ours[0])

    # -- who may ask -------------------------------------------------------------------------

    def _untrusted_reason(self, address: str | None) -> str | None:
        trust = self.cfg.trust
        if address is None:
            return "From is missing, malformed or names more than one address"
        if not domain_allowed(address, trust.sender_domains):
            return f"sender domain {address.rsplit('@', 1)[1]} is not in trust.sender_domains"
        server = trust.authentication_results_server_id
        if trust.require_dmarc and server and not dmarc_passes(self.msg, server):
            return f"no dmarc=pass from {server} in Authentication-Results"
        return None

    def _case_in_thread(self) -> Case | None:
        case = self.tx.case_for_thread(thread_references(self.msg))
        if case is None:
            subject = str(self.msg.get("Subject", ""))
            numbers = find_n_numbers(subject)
            if numbers and subject.strip() != strip_reply_prefixes(subject).strip():
                case = self.tx.open_case_with_n_number(numbers)
        return case

    # -- the routes --------------------------------------------------------------------------

    def _unrecognised(self, address: str | None) -> Handled:
        self.actor = address or "unknown"
        self.note(None, "triaged", "subject not recognised")
        if address and self.may_answer(None, address):
            context = {
                "urgent_subject": "URGENT S47 ENQUIRY",
                "standard_subject": "Strategy discussion",
                "address": self.cfg.bot.address,
            }
            self.send("triage_reply", None, (address,), (), context, key=self.message_id)
        return self._done("unrecognised", "triage")

    def _urgent(self, details: RequestDetails) -> Handled:
        """Flowchart A, domain.md §4.1–4.2: start the clock, acknowledge, refer to the duty DS."""
        t0 = clock_start(date_header(self.msg), self.mail.received_at, self.cfg.urgent.date_header_max_age_hours)
        case = self.tx.add_case(
            Kind.URGENT,
            CaseState.AWAITING_CONTACT,
            details,
            self.message_id,
            self.mail.received_at,
            self.now,
            clock_start=t0,
        )
        self._opened(case)
        due = callback_due(t0, self.cfg.urgent.callback_minutes)
        missing = [MISSING_FIELD_WORDING[f][0] for f in details.missing(Kind.URGENT)]
        timing = {
            "clock_start": t0.astimezone(self.s.tz),
            "callback_by": due.astimezone(self.s.tz),
            "callback_minutes": self.cfg.urgent.callback_minutes,
            "missing": missing,
        }
        people = self.cfg.people
        ack = {
            **timing,
            "phone": details.requester.phone,
            "ds_contacts": list(people.ds_contacts),
            "admin_support_phone": people.admin_support_phone,
        }
        self.send("urgent_acknowledgement", case, (details.requester.email or "",), (), ack)
        referral = {**timing, "details": details, "urgent_indicators": self._indicators(details)}
        self.send("duty_referral", case, (people.duty_ds,), (people.referral_unit,), referral)
        self.start_urgent_ladder(case, t0)
        return self._done("urgent", "processed", case)

    def _standard(self, details: RequestDetails) -> Handled:
        """Flowchart B, domain.md §2–§3: book when complete, else ask for what is missing."""
        missing = details.missing(Kind.STANDARD)
        state = CaseState.AWAITING_INFORMATION if missing else CaseState.BOOKED
        case = self.tx.add_case(Kind.STANDARD, state, details, self.message_id, self.mail.received_at, self.now)
        self._opened(case)
        if missing:
            self._ask_for(case, missing)
        else:
            self.book(case, self.mail.received_at, self._indicators(details))
        return self._done("standard", "processed", case)

    def _reply(self, case: Case, address: str) -> Handled:
        """A reply in a case's thread (domain.md §1.2, §6): completes a request, or carries a command."""
        self.actor = address
        self._done("reply", "processed", case)
        self.note(case, "reply_received")
        top = strip_quoted(message_text(self.msg).plain)
        command = read_command(top)
        requester = case.details.requester.email
        if isinstance(command, NotUnderstood):
            self.command_help(case, address, command.reason)
            return self.result
        if isinstance(command, Command):
            if not entitled(command.word, address, requester, self.s.police_domain):
                self.note(case, "command_refused", command.word)
                self.command_help(case, address, f"{command.word} can only be sent by {_who_may(command.word)}.")
            elif not self.apply(case, command, address, _has_attachment(self.msg)):
                self.note(case, "command_not_applicable", f"{command.word} while {case.state.value}")
                reason = f"{command.word} does not apply to case {case.case_id} as it stands ({_state_words(case)})."
                self.command_help(case, address, reason)
            return self.result
        if self._replies_to_minutes() and _has_attachment(self.msg):
            self.minutes_recorded(case, "minutes attached to a reply")
            return self.result
        if case.state is CaseState.AWAITING_INFORMATION and entitled("", address, requester, self.s.police_domain):
            self._complete(case)
            return self.result
        self.command_help(case, address, "The first line of your reply was not one of the words the bot understands.")
        return self.result

    def _replies_to_minutes(self) -> bool:
        return any(self.tx.email_purpose(ref) == "minutes_template" for ref in thread_references(self.msg))

    def _complete(self, case: Case) -> None:
        supplied = read_request(_top_part(self.msg), case.kind)
        details = case.details.completed_by(supplied)
        self.tx.update_case(case.case_id, self.now, details=details)
        case = replace(case, details=details)
        missing = details.missing(case.kind)
        if missing:
            # Asked again only within the reply limits: a mailbox that answers every email
            # without marking itself automatic would otherwise be asked all night.
            if self.may_answer(case, case.details.requester.email or ""):
                self._ask_for(case, missing)
            return
        check_transition(case.state, CaseState.BOOKED)
        self.tx.update_case(case.case_id, self.now, state=CaseState.BOOKED)
        self.note(case, "details_completed")
        self.book(replace(case, state=CaseState.BOOKED), self.mail.received_at, self._indicators(details))

    # -- steps -------------------------------------------------------------------------------

    def _opened(self, case: Case) -> None:
        self.actor = case.details.requester.email or "unknown"
        details = case.details
        self.note(case, "received", f"{case.kind.value} request for {', '.join(details.n_numbers) or 'no N number'}")
        self.actor = "bot"
        self.note(case, "read", _what_was_read(details, case.kind))

    def _indicators(self, details: RequestDetails) -> list[str]:
        text = "\n".join(filter(None, [details.reason, message_text(self.msg).plain]))
        return [URGENT_CRITERIA[code] for code in screen_urgent_indicators(text)]

    def _ask_for(self, case: Case, missing: list[str]) -> None:
        indicators = self._indicators(case.details)
        context = {
            "missing": [MISSING_FIELD_WORDING[f][0] for f in missing],
            "template_labels": [MISSING_FIELD_WORDING[f][1] for f in missing],
            "kind": case.kind.value,
            "urgent_indicators": indicators,
        }
        cc = (self.cfg.people.referral_unit,) if indicators else ()
        self.send("missing_information", case, (case.details.requester.email or "",), cc, context)
        self.note(case, "awaiting_information", ", ".join(missing))


def _has_attachment(msg: EmailMessage) -> bool:
    return any(part.get_filename() for part in msg.walk() if not part.is_multipart())


def _who_may(word: str) -> str:
    return who_may(word)


def _state_words(case: Case) -> str:
    return case.state.value.replace("_", " ")


def _message_id(msg: EmailMessage) -> str | None:
    value = str(msg.get("Message-ID", "") or "").strip()
    value = "".join(ch for ch in value if ch.isprintable() and not ch.isspace())
    if not value:
        return None
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def _top_part(msg: EmailMessage) -> EmailMessage:
    """A copy of a reply holding only what was written above the quoted text (§6)."""
    top = EmailMessage()
    for header in ("From", "Subject"):
        if msg.get(header):
            top[header] = str(msg[header])
    top.set_content(strip_quoted(message_text(msg).plain) or "\n")
    return top


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _log_handled(result: Handled) -> None:
    log.info(
        "message handled: kind=%s outcome=%s case=%s emails=%d",
        result.kind,
        result.outcome,
        result.case_id or "-",
        len(result.emails),
    )


def _error_for_admin(exc: Exception) -> str:
    """What went wrong, for the administrator's alert: our own errors and template errors are
    written to be read (they name a key, a template and line, a server); any other exception's
    text may quote mail, so only its class is given."""
    if isinstance(exc, (BotError, TemplateError)):
        return _one_line(f"{type(exc).__name__}: {exc}")[:300]
    return type(exc).__name__


def _what_was_read(details: RequestDetails, kind: Kind) -> str:
    """The history's account of a request's reading: which fields, never what they say."""
    found = [
        name
        for name, value in (
            ("surname", details.surname),
            ("children", details.children),
            ("address", details.address),
            ("requester", details.requester.email),
            ("phone", details.requester.phone),
            ("social worker", details.social_worker),
            ("reason", details.reason),
            ("health rep", details.health_rep),
        )
        if value
    ]
    counts = f"{len(details.n_numbers)} N number(s), {len(details.invitees)} invitee(s)"
    complex_case = ", complex" if details.complex else ""
    missing = details.missing(kind)
    gaps = f"missing: {', '.join(missing)}" if missing else "nothing required missing"
    return f"{counts}{complex_case}; found: {', '.join(found) or 'nothing'}; {gaps}"
