"""Near misses (domain.md §1): a subject that says ``urgent`` or names S47 but is not an URGENT subject.

It is handled exactly as its subject says (a standard request, triage …); in addition the
duty DS and the referral unit are told at once, and the sender is told plainly that it was
not treated as an urgent Section 47 enquiry and how to re-send it. A live enquiry must never
wait in a folder because its subject was written a little differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.classify import is_near_miss
from bot.domain.decisions import Mail, Role
from bot.domain.model import CaseState
from bot.domain.purposes import Purpose

URGENT_SUBJECT_WORDS = "URGENT S47 ENQUIRY"


class Handling(StrEnum):
    """What the bot did with a near miss, as the alert tells police (the template words it)."""

    BOOKED = "booked"  # a standard discussion booked in the rota
    AWAITING_INFORMATION = "awaiting_information"  # a standard request waiting for missing details
    NEEDS_PERSON = "needs_person"  # a standard request with no free slot: passed to a person
    OPEN = "open"  # a standard request's case in any other state (its state is named)
    TRIAGED = "triaged"  # not a request: in the triage folder, no case opened


@dataclass(frozen=True)
class NearMiss:
    """A near-miss message: its subject, its sender and the N numbers it names (nothing else, §7)."""

    subject: str
    sender: str
    n_numbers: tuple[str, ...] = ()

    @property
    def resend_subject(self) -> str:
        """The subject to re-send it with: ``URGENT S47 ENQUIRY N146782``."""
        return f"{URGENT_SUBJECT_WORDS} {', '.join(self.n_numbers) or 'N…'}"


def near_miss(subject: str, sender: str, n_numbers: Sequence[str]) -> NearMiss | None:
    """The near miss ``subject`` makes, or None when it is not one (an URGENT subject never is)."""
    if not is_near_miss(subject):
        return None
    return NearMiss(" ".join(subject.split()), sender, tuple(dict.fromkeys(n_numbers)))


def sender_note(miss: NearMiss) -> dict[str, object]:
    """What the sender's reply says of the near miss (``near_miss`` in the reply templates)."""
    return {"subject": miss.subject, "resend_subject": miss.resend_subject}


def handling(state: CaseState | None) -> Handling:
    """What was done, from the state the message left its case in (None: no case was opened)."""
    if state is None:
        return Handling.TRIAGED
    return {
        CaseState.BOOKED: Handling.BOOKED,
        CaseState.AWAITING_INFORMATION: Handling.AWAITING_INFORMATION,
        CaseState.NEEDS_PERSON: Handling.NEEDS_PERSON,
    }.get(state, Handling.OPEN)


def near_miss_alert(
    miss: NearMiss,
    received: datetime,
    state: CaseState | None,
    booked_start: datetime | None,
    sender_told: bool,
    triage_folder: str,
) -> Mail:
    """The alert to the duty DS, copied to the referral unit: N numbers, sender, subject, what was done.

    ``received`` and ``booked_start`` are local times.
    """
    context = {
        "for_sender": False,
        "n_numbers": list(miss.n_numbers),
        "sender": miss.sender,
        "subject": miss.subject,
        "received": received,
        "handling": handling(state).value,
        "state": state.value if state else None,
        "booked_start": booked_start,
        "sender_told": sender_told,
        "triage_folder": triage_folder,
        "resend_subject": miss.resend_subject,
    }
    return Mail(Purpose.NEAR_MISS_ALERT, (Role.DUTY_DS,), (Role.REFERRAL_UNIT,), context)


def sender_notice(miss: NearMiss, received: datetime) -> Mail:
    """The short notice to a sender whose request got no reply of its own to carry the warning."""
    context = {
        "for_sender": True,
        "near_miss": sender_note(miss),
        "n_numbers": list(miss.n_numbers),
        "sender": miss.sender,
        "subject": miss.subject,
        "received": received,
        "handling": None,
        "state": None,
        "booked_start": None,
        "sender_told": True,
        "triage_folder": "",
        "resend_subject": miss.resend_subject,
    }
    return Mail(Purpose.NEAR_MISS_ALERT, (miss.sender,), (), context)
