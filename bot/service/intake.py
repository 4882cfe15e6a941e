"""A message in: who may ask, seen before or not, and which route it takes (domain.md §1, §2, §7)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from bot.domain.cases import UrgentOpened
from bot.domain.classify import strip_reply_prefixes
from bot.domain.model import Case, CaseState, Kind, RequestDetails
from bot.domain.n_numbers import find_n_numbers
from bot.domain.purposes import Purpose
from bot.domain.threads import ThreadRoute, thread_route
from bot.domain.trust import domain_allowed
from bot.domain.urgent_clock import clock_start
from bot.domain.urgent_screening import URGENT_CRITERIA
from bot.mail.reading import MessageReading
from bot.ports import IncomingMail
from bot.service.attendance import record_answer
from bot.service.booking import book
from bot.service.bot_replies import reply_to_bot
from bot.service.handled import Handled
from bot.service.known_children import tell_of_open_cases
from bot.service.near_misses import spot_near_miss, tell_of_near_miss
from bot.service.replies import reply
from bot.service.request_details import MISSING_FIELD_WORDING, ask_for
from bot.service.unit import Unit

log = logging.getLogger("bot.service")


class Quarantine(Exception):
    """Raised inside handling to send a message to Quarantine with a plain reason."""

    def __init__(self, reason: str, case: Case | None = None) -> None:
        super().__init__(reason)
        self.case_id = case.case_id if case else None


@dataclass
class Intake:
    """Handling of one read message inside one open unit of work."""

    unit: Unit
    reading: MessageReading
    mail: IncomingMail
    message_id: str

    def run(self) -> Handled:
        reading = self.reading
        verdict = reading.verdict
        if verdict.kind is Kind.AUTO:
            # §3.6: an attendee's answer to the invitation goes in its case's history, unanswered.
            answered = None
            if reading.meeting_response and not self._untrusted_reason(reading.sender_address):
                answered = record_answer(self.unit, reading)
            if answered is None:
                self.unit.note(None, "ignored", verdict.auto_reason or "")
            if verdict.auto_reason == "delivery status report":
                self._bounce_alert()
            return self._done("auto", "ignored", answered, reason=verdict.auto_reason)
        address = reading.sender_address
        untrusted = self._untrusted_reason(address)
        if verdict.is_reply:
            case = self._case_in_thread()
            route = self._thread_route(case)
            if case is not None and route is ThreadRoute.CASE_REPLY:
                if untrusted:
                    raise Quarantine(f"reply in case {case.case_id} from an untrusted sender: {untrusted}", case)
                self._done("reply", "processed", case)
                reply(self.unit, case, reading, address or "", self.mail.received_at)
                return self.unit.result
            if route in (ThreadRoute.AGENDA_REPLY, ThreadRoute.BOT_REPLY):
                # §1.2: a reply to the bot's own mail never opens a case, whatever its subject.
                if untrusted:
                    raise Quarantine(f"reply to the bot's own email from an untrusted sender: {untrusted}")
                reply_to_bot(self.unit, route, reading, address or "")
                return self._done("reply", "processed")
        if untrusted:
            # §7: whatever it asks, mail from outside the trusted senders is quarantined and
            # the administrator told; the claimed sender gets nothing.
            what = "message" if verdict.kind is Kind.UNRECOGNISED else "request"
            raise Quarantine(f"{verdict.kind.value} {what} from an untrusted sender: {untrusted}")
        # §1: a subject that says "urgent" or S47 but is not the URGENT subject is handled as
        # it says, and never silently: police are told, and so is the sender.
        miss = spot_near_miss(self.unit, reading, address or "")
        handled = self._route(address)
        if miss is not None:
            tell_of_near_miss(self.unit, miss, handled.case_id, self.mail.received_at, self.message_id)
        return handled

    def _route(self, address: str | None) -> Handled:
        verdict, details = self.reading.verdict, self.reading.request or RequestDetails()
        if verdict.kind is Kind.UNRECOGNISED:
            return self._unrecognised(address)
        if verdict.kind is Kind.URGENT:
            return self._urgent(details)
        return self._standard(details)

    def _done(self, kind: str, outcome: str, case: Case | None = None, reason: str | None = None) -> Handled:
        result = self.unit.result
        result.kind, result.outcome, result.reason = kind, outcome, reason
        result.case_id = case.case_id if case else None
        return result

    def _bounce_alert(self) -> None:
        """Issue 6: a bounce of the bot's own mail reaches the administrator; it never opens a case."""
        unit, config = self.unit, self.unit.config
        domain = re.escape(config.bot.message_id_domain)
        found = re.findall(rf"<[^<>\s]+@{domain}>", self.mail.raw.decode("ascii", "replace"))
        ours = [ref for ref in dict.fromkeys(found) if unit.tx.email_purpose(ref)]
        if not ours:
            return
        case = unit.tx.case_for_thread(ours)
        reason = f"delivery failure report for the bot's email {ours[0]}" + (f" (case {case.case_id})" if case else "")
        context = {
            "reason": reason,
            "message_id": self.message_id,
            "received_at": self.mail.received_at.astimezone(unit.setup.tz),
            "folder": config.inbox.processed_folder,
        }
        to = (config.people.administrator,)
        unit.send(Purpose.QUARANTINE_NOTICE, None, to, (), context, key=self.message_id)
        unit.note(case, "bounce", ours[0])

    # -- who may ask -------------------------------------------------------------------------

    def _untrusted_reason(self, address: str | None) -> str | None:
        trust = self.unit.config.trust
        if address is None:
            return "From is missing, malformed or names more than one address"
        if not domain_allowed(address, trust.sender_domains):
            return f"sender domain {address.rsplit('@', 1)[1]} is not in trust.sender_domains"
        server = trust.authentication_results_server_id
        if trust.require_dmarc and server and not self.reading.dmarc_passes(server):
            return f"no dmarc=pass from {server} in Authentication-Results"
        return None

    def _case_in_thread(self) -> Case | None:
        tx = self.unit.tx
        case = tx.case_for_thread(list(self.reading.thread_references))
        if case is None:
            subject = self.reading.subject
            numbers = find_n_numbers(subject)
            if numbers and subject.strip() != strip_reply_prefixes(subject).strip():
                case = tx.open_case_with_n_number(numbers)
        return case

    def _thread_route(self, case: Case | None) -> ThreadRoute:
        """§1.2 from what the references point at: the case, else the bot's own emails."""
        tx, reading = self.unit.tx, self.reading
        purposes = {p for ref in reading.thread_references if (p := tx.email_purpose(ref))}
        top = reading.reply_request
        reads_as_request = top is not None and bool(top.reason or top.requester.phone)
        return thread_route(case.state if case else None, purposes, reading.verdict.kind, reads_as_request)

    # -- the routes --------------------------------------------------------------------------

    def _unrecognised(self, address: str | None) -> Handled:
        unit = self.unit
        unit.actor = address or "unknown"
        unit.note(None, "triaged", "subject not recognised")
        if address and unit.may_answer(None, address):
            context = {
                "urgent_subject": "URGENT S47 ENQUIRY",
                "standard_subject": "Strategy discussion",
                "address": unit.config.bot.address,
            }
            unit.send(Purpose.TRIAGE_REPLY, None, (address,), (), context, key=self.message_id)
        return self._done("unrecognised", "triage")

    def _urgent(self, details: RequestDetails) -> Handled:
        """Flowchart A, domain.md §4.1–4.2: start the clock, acknowledge, refer to the duty DS."""
        unit = self.unit
        max_age = unit.config.urgent.date_header_max_age_hours
        t0 = clock_start(self.reading.date_header, self.mail.received_at, max_age)
        case = self._open(Kind.URGENT, CaseState.AWAITING_CONTACT, details, clock_start=t0)
        missing = tuple(MISSING_FIELD_WORDING[f][0] for f in details.missing(Kind.URGENT))
        unit.decide(case, UrgentOpened(t0, missing, self._indicators()))
        tell_of_open_cases(unit, case)
        return self._done("urgent", "processed", case)

    def _standard(self, details: RequestDetails) -> Handled:
        """Flowchart B, domain.md §2–§3: book when complete, else ask for what is missing."""
        missing = details.missing(Kind.STANDARD)
        state = CaseState.AWAITING_INFORMATION if missing else CaseState.BOOKED
        case = self._open(Kind.STANDARD, state, details)
        if missing:
            ask_for(self.unit, case, missing, self._indicators())
        else:
            book(self.unit, case, self.mail.received_at, self._indicators())
        tell_of_open_cases(self.unit, case)
        return self._done("standard", "processed", case)

    def _indicators(self) -> tuple[str, ...]:
        """§1 urgent-threshold screening of the request, as the reader found it."""
        return tuple(URGENT_CRITERIA[code] for code in self.reading.urgent_indicators)

    def _open(self, kind: Kind, state: CaseState, details: RequestDetails, clock_start: datetime | None = None) -> Case:
        unit = self.unit
        received = self.mail.received_at
        case = unit.tx.add_case(kind, state, details, self.message_id, received, unit.now, clock_start=clock_start)
        unit.actor = details.requester.email or "unknown"
        unit.note(case, "received", f"{kind.value} request for {', '.join(details.n_numbers) or 'no N number'}")
        unit.actor = "bot"
        unit.note(case, "read", what_was_read(details, kind))
        return case


def what_was_read(details: RequestDetails, kind: Kind) -> str:
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
