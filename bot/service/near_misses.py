"""Near misses (domain.md §1): police told at once, the sender told plainly, on top of the usual handling."""

from __future__ import annotations

from datetime import datetime

from bot.domain.decisions import Recipient, Role
from bot.domain.near_miss import NearMiss, near_miss, near_miss_alert, sender_note, sender_notice
from bot.domain.purposes import Purpose
from bot.mail.reading import MessageReading
from bot.service.unit import Unit

# The replies that carry the near-miss warning to the sender (their templates include it).
_REPLIES_THAT_WARN = (Purpose.CONFIRMATION, Purpose.MISSING_INFORMATION, Purpose.TRIAGE_REPLY)


def spot_near_miss(unit: Unit, reading: MessageReading, sender: str) -> NearMiss | None:
    """The message's near miss, if it is one; every reply the sender gets from now on carries the warning."""
    if not reading.near_miss:
        return None
    miss = near_miss(reading.subject, sender, reading.near_miss_n_numbers)
    if miss is not None:
        unit.message_context["near_miss"] = sender_note(miss)
    return miss


def tell_of_near_miss(unit: Unit, miss: NearMiss, case_id: str | None, received_at: datetime, key: str) -> None:
    """The duty DS and the referral unit told what was done; the sender told if no reply of theirs said so.

    A sender whose triage reply was held back by the reply limits gets nothing more: that is
    what the limits are for. Police are told that the sender was not.
    """
    tz = unit.setup.tz
    case = unit.tx.case(case_id) if case_id else None
    booking = unit.tx.booking_for(case.case_id) if case else None
    warned = any(e.purpose in _REPLIES_THAT_WARN and miss.sender in e.to for e in unit.result.emails)
    received = received_at.astimezone(tz)
    if case is not None and not warned:
        unit.mail(case, sender_notice(miss, received))
        warned = True
    booked_start = booking.start.astimezone(tz) if booking else None
    alert = near_miss_alert(
        miss, received, case.state if case else None, booked_start, warned, unit.config.inbox.triage_folder
    )
    if case is not None:
        unit.mail(case, alert)
    else:
        # No case to thread it to: the roles are resolved here, and the Message-ID made from the message.
        to, cc = _addresses(unit, alert.to), _addresses(unit, alert.cc)
        unit.send(alert.purpose, None, to, cc, dict(alert.context), key=f"{key}:near_miss")
    unit.note(case, "near_miss", "subject not an URGENT subject; duty DS and referral unit told")


def _addresses(unit: Unit, recipients: tuple[Recipient, ...]) -> list[str]:
    return [unit.setup.address_of(r) if isinstance(r, Role) else r for r in recipients]
