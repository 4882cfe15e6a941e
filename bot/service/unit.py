"""One unit of work: a decision carried out, every change and email committed together."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from bot.domain.booking_rules import attendees
from bot.domain.cases import Event, decide
from bot.domain.compliance import compliance_record
from bot.domain.decisions import Attach, CaseTimer, CaseView, Decision, Mail, Role
from bot.domain.model import Attachment, CalendarEvent, Case, OutgoingEmail, wall_clock
from bot.domain.purposes import SHORT_REPLIES, Purpose
from bot.ports import StoreTransaction
from bot.service.documents import invitation_for, minutes_pack_for
from bot.service.handled import Handled
from bot.service.ledger import Recording
from bot.service.outbox import compose
from bot.service.setup import Setup

log = logging.getLogger("bot.service")


class Unit:
    """The work on one message or timer inside one open transaction."""

    def __init__(
        self, setup: Setup, tx: StoreTransaction, now: datetime, result: Handled, in_reply_to: str | None = None
    ) -> None:
        self.setup = setup
        self.config = setup.config
        # Every call goes to the transaction; what this unit writes of a case is also kept, so its
        # views and compliance records need not read it back (bot/service/ledger.py).
        self.ledger = Recording(tx)
        self.tx = cast(StoreTransaction, self.ledger)
        self.now = now
        self.result = result
        self.in_reply_to = in_reply_to
        self.actor = "bot"
        # What every email sent while handling this message says of the message itself: a
        # near miss's warning to its sender (domain.md §1) reaches whichever reply they get.
        self.message_context: dict[str, Any] = {}
        # The cases this unit changed: their compliance records are rewritten before it commits (§5).
        self.touched: set[str] = set()

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
        context = {**self.message_context, **context}
        out = compose(self.setup, self.tx, purpose, case, to, cc, context, self.now, self.in_reply_to, attachments, key)
        self.result.emails.append(out)
        return out

    def note(self, case: Case | None, action: str, detail: str = "") -> None:
        if case is not None:
            self.touched.add(case.case_id)
        self.tx.add_history(case.case_id if case else None, self.now, self.actor, action, detail, self.in_reply_to)

    def record_compliance(self) -> None:
        """Rewrite the compliance record of every case this unit changed, in its transaction (§5).

        Made from the case's parts as the unit wrote or read them (bot/service/ledger.py), not read back.
        """
        ledger = self.ledger
        for case_id in sorted(self.touched):
            case = ledger.known_case(case_id)
            if case is None:
                continue
            booking, history, timers = (
                ledger.known_booking(case_id),
                ledger.known_history(case_id),
                ledger.known_timers(case_id),
            )
            self.tx.put_compliance(compliance_record(case, booking, history, timers, self.setup.policy, self.now))

    def local(self, moment: datetime) -> str:
        return wall_clock(moment, self.setup.tz)

    def may_answer(self, case: Case | None, sender: str) -> bool:
        """Loop protection (issue 6): short replies are capped per sender per hour and overall per minute.

        A mail system that answers every reply without marking itself automatic would
        otherwise keep the two machines writing to each other all night.
        """
        trust = self.config.trust
        purposes = tuple(str(p) for p in SHORT_REPLIES)
        per_sender = self.tx.count_recent_emails(purposes, self.now - timedelta(hours=1), sender)
        overall = self.tx.count_recent_emails(purposes, self.now - timedelta(minutes=1))
        if per_sender < trust.max_replies_per_sender_per_hour and overall < trust.max_replies_per_minute:
            return True
        why = "sender limit" if per_sender >= trust.max_replies_per_sender_per_hour else "circuit breaker open"
        self.note(case, "reply_suppressed", why)
        log.warning("short reply not sent: %s", why)
        return False

    # -- decisions ---------------------------------------------------------------------------

    def view(self, case: Case, with_history: bool = False) -> CaseView:
        """The case with what the rules need to know of it, read in this transaction.

        What the history says (the outcome, when contact and HELD were recorded) is read only
        when asked for, so that other decisions do not read a long history.
        """
        ledger = self.ledger
        pending = tuple(
            CaseTimer(Purpose(t.purpose), t.due_at, t.scope, t.detail)
            for t in ledger.known_timers(case.case_id)
            if t.status == "pending"
        )
        view = CaseView(case, ledger.known_booking(case.case_id), pending)
        if not with_history:
            return view
        last = {entry.action: entry for entry in ledger.known_history(case.case_id)}
        return replace(
            view,
            outcome=last["outcome"].detail if "outcome" in last else None,
            held_at=last["held"].at if "held" in last else None,
            contacted_at=last["contacted"].at if "contacted" in last else None,
        )

    def decide(
        self, case: Case, event: Event, calendar_event: CalendarEvent | None = None, with_history: bool = False
    ) -> tuple[Case, Decision]:
        """The rules' decision on ``event``, carried out; returns the case as it now stands.

        ``calendar_event`` is the booking's event, for the invitation a confirmation carries.
        """
        decision = decide(self.view(case, with_history), event, self.now, self.setup.policy)
        return self.carry_out(case, decision, calendar_event), decision

    def carry_out(self, case: Case, decision: Decision, event: CalendarEvent | None = None) -> Case:
        """Write the decision: state, details, timers, history, then its emails (``event`` for invitations)."""
        if not decision.applies or not decision.needed:
            return case
        self.touched.add(case.case_id)
        changes: dict[str, Any] = {}
        if decision.state is not None and decision.state is not case.state:
            changes["state"] = decision.state
        if decision.details is not None:
            changes["details"] = decision.details
        if decision.effective_day is not None:
            changes["effective_day"] = decision.effective_day
        if changes:
            self.tx.update_case(case.case_id, self.now, **changes)
            if decision.effective_day is not None:
                changes["effective_day"] = decision.effective_day.isoformat()  # as the case holds it
            case = replace(case, **changes)
        for cancel in decision.cancel_timers:
            purposes = tuple(sorted(cancel.purposes)) if cancel.purposes is not None else None
            self.tx.cancel_timers(case.case_id, purposes, cancel.scope)
        for timer in decision.set_timers:
            key = f"{case.case_id}:{timer.purpose}:{timer.scope}:{timer.detail}"
            self.tx.add_timer(key, case.case_id, timer.purpose, timer.due, timer.detail, timer.scope)
        for line in decision.history:
            self.note(case, line.action, line.detail)
            log.info("case %s: %s", case.case_id, line.action)
        for mail in decision.emails:
            self.mail(case, mail, event)
        return case

    def mail(self, case: Case, mail: Mail, event: CalendarEvent | None = None) -> OutgoingEmail:
        """Send one email the rules decided on, its roles turned into the configured addresses."""
        to = [self._address(r) for r in mail.to]
        cc = [self._address(r) for r in mail.cc]
        context = dict(mail.context)
        attachments: tuple[Attachment, ...] = mail.files
        if mail.attach is Attach.INVITATION and event is not None:
            attachments = invitation_for(self.setup, event, "REQUEST", self.now)
        elif mail.attach is Attach.MINUTES_PACK:
            invited, _ = attendees(case.details, self.setup.policy.recipient_domains)
            start = context.pop("meeting_start")
            assert isinstance(start, datetime)
            pack_context, document = minutes_pack_for(self.setup, case, start, invited)
            context = {**context, **pack_context}
            attachments = (document,)
        return self.send(mail.purpose, case, to, cc, context, attachments)

    def _address(self, recipient: Role | str) -> str:
        return self.setup.address_of(recipient) if isinstance(recipient, Role) else recipient
