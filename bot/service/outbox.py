"""Outgoing mail: rendered, addressed within the allowed domains and queued in the caller's transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.booking_rules import unique
from bot.domain.model import Attachment, Case, OutgoingEmail, RequestDetails
from bot.mail.wire import build_message
from bot.ports import StoreTransaction
from bot.service.setup import Setup


def base_context(setup: Setup, case: Case | None) -> dict[str, Any]:
    """What every email may say: who the bot is, the case's N numbers, the people to ring, the dial-in."""
    config = setup.config
    details = case.details if case else RequestDetails()
    people = config.people
    return {
        "bot_name": config.bot.display_name,
        "referral_unit_name": people.referral_unit_name,
        "referral_unit": people.referral_unit,
        "case_id": case.case_id if case else None,
        "n_numbers": list(details.n_numbers),
        "meeting_name": ", ".join(details.n_numbers),
        "requester": details.requester,
        "ds_contacts": list(people.ds_contacts),
        "admin_support_phone": people.admin_support_phone,
        # One MASH service manager for the whole ladder (escalation_90 names them; 120 goes to them).
        "mash_manager": config.urgent.mash_service_manager,
        "dial_in": config.conference.dial_in,
        "passcode": config.conference.passcode,
    }


def compose(
    setup: Setup,
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

    Recipients outside ``trust.recipient_domains`` are dropped (domain.md §7) and the drop is
    recorded. The Message-ID is derived from the case (or ``key``) and purpose so a resend is
    recognisable.
    """
    config = setup.config
    rendered = setup.renderer.render(purpose, {**base_context(setup, case), **context})
    allowed = setup.allowed_recipient_for(case)
    allowed_to = unique(a for a in to if a and allowed(a))
    allowed_cc = unique(a for a in cc if a and allowed(a) and a not in allowed_to)
    dropped = [a for a in list(to) + list(cc) if a and not allowed(a)]
    case_id = case.case_id if case else None
    if case_id is not None:
        local = f"{case_id}.{purpose}.{tx.count_emails(case_id, purpose) + 1}"
    else:
        local = keyed_local_part(purpose, key or "")
    references: tuple[str, ...] = ()
    if case is not None:
        references = tuple(unique([case.root_message_id, in_reply_to]))
    elif in_reply_to:
        references = (in_reply_to,)
    out = OutgoingEmail(
        purpose=purpose,
        to=tuple(allowed_to),
        cc=tuple(allowed_cc),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=f"<{local}@{config.bot.message_id_domain}>",
        in_reply_to=in_reply_to,
        references=references,
        case_id=case_id,
        attachments=attachments,
    )
    if dropped:
        tx.add_history(case_id, now, "bot", "recipient_refused", f"{purpose}: {len(dropped)} outside allowed domains")
    if not out.to and not out.cc:
        tx.add_history(case_id, now, "bot", "not_sent", f"{purpose}: no allowed recipient")
        return out
    raw = build_message(out, config.bot.display_name, config.bot.address, config.bot.x_loop, now)
    tx.queue_email(out, raw, now)
    tx.add_history(case_id, now, "bot", "email_queued", f"{purpose} to {', '.join(out.to + out.cc)}", out.message_id)
    return out


def keyed_local_part(purpose: str, key: str) -> str:
    """The Message-ID's local part of an email that belongs to no case: its purpose and a digest of its key."""
    return f"{purpose}.{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def keyed_message_id(setup: Setup, purpose: str, key: str) -> str:
    """The Message-ID ``compose`` gives an email of no case queued with ``key``: the same key, the same email."""
    return f"<{keyed_local_part(purpose, key)}@{setup.config.bot.message_id_domain}>"
