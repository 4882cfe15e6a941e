"""Children already known: a request for a child who has an open case (domain.md §3.4).

The request is handled as any other; in addition the TM/PM and the referral unit are told
which case, state and booking already exist. An URGENT request for a child with a booked
standard discussion is told to the referral unit in that discussion's own thread, so that a
``CANCEL`` in reply cancels the booked discussion and never the urgent enquiry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.domain.decisions import CaseView, Decision, Mail, Note, Policy, Role
from bot.domain.model import Booking, Case, CaseState, Kind
from bot.domain.purposes import Purpose

_FINISHED = (CaseState.CANCELLED, CaseState.CLOSED)


@dataclass(frozen=True)
class KnownCase:
    """An open case naming one of the request's children: ids, state and booking only, never names (§7)."""

    case_id: str
    kind: Kind
    state: CaseState
    n_numbers: tuple[str, ...]  # the N numbers it shares with the request
    booking_start: datetime | None = None
    booking_end: datetime | None = None


def known_cases(
    case: Case, candidates: Iterable[Case], bookings: Mapping[str, Booking | None]
) -> tuple[KnownCase, ...]:
    """The other open cases (not cancelled or closed) naming any of ``case``'s N numbers, each once, oldest first."""
    found: dict[str, KnownCase] = {}
    for other in candidates:
        shared = tuple(n for n in other.details.n_numbers if n in case.details.n_numbers)
        if other.case_id == case.case_id or other.state in _FINISHED or not shared or other.case_id in found:
            continue
        booking = bookings.get(other.case_id)
        found[other.case_id] = KnownCase(
            other.case_id,
            other.kind,
            other.state,
            shared,
            booking.start if booking else None,
            booking.end if booking else None,
        )
    return tuple(found.values())


def booked_discussions(kind: Kind, known: Iterable[KnownCase]) -> tuple[KnownCase, ...]:
    """The booked standard discussions an URGENT request may take the place of (the referral unit may cancel them)."""
    if kind is not Kind.URGENT:
        return ()
    return tuple(k for k in known if k.kind is Kind.STANDARD and k.state is CaseState.BOOKED and k.booking_start)


@dataclass(frozen=True)
class OpenCasesFound:
    """The new request names children with open cases (``known``, never empty)."""

    known: tuple[KnownCase, ...]


@dataclass(frozen=True)
class UrgentForBookedChild:
    """Decided on a booked standard case: an URGENT request (``urgent_case_id``) names its children."""

    urgent_case_id: str
    urgent_requester: str
    known: tuple[KnownCase, ...]  # every open case the urgent request found, this one among them


def _listed(known: Iterable[KnownCase], policy: Policy) -> list[dict[str, object]]:
    return [
        {
            "case_id": k.case_id,
            "kind": k.kind.value,
            "state": k.state.value.replace("_", " "),
            "n_numbers": list(k.n_numbers),
            "start": k.booking_start.astimezone(policy.tz) if k.booking_start else None,
            "end": k.booking_end.astimezone(policy.tz) if k.booking_end else None,
        }
        for k in known
    ]


def _summary(known: Iterable[KnownCase]) -> str:
    return "; ".join(f"{k.case_id} {','.join(k.n_numbers)} {k.state.value}" for k in known)


def open_cases_found(view: CaseView, event: OpenCasesFound, now: datetime, policy: Policy) -> Decision:
    """To the TM/PM, copied to the referral unit: which cases already exist. For an URGENT request
    with a booked standard discussion the notice goes in that discussion's thread instead."""
    case = view.case
    booked = booked_discussions(case.kind, event.known)
    if booked:
        where = ", ".join(k.case_id for k in booked)
        return Decision(history=(Note("open_case_notice", f"in the thread of {where}: {_summary(event.known)}"),))
    context = {
        "known": _listed(event.known, policy),
        "urgent": case.kind is Kind.URGENT,
        "urgent_case_id": None,
        "cancel_case_id": case.case_id if case.kind is Kind.STANDARD else None,
    }
    mail = Mail(Purpose.OPEN_CASE_NOTICE, (case.details.requester.email or "",), (Role.REFERRAL_UNIT,), context)
    return Decision(emails=(mail,), history=(Note("open_case_notice", _summary(event.known)),))


def urgent_for_booked_child(view: CaseView, event: UrgentForBookedChild, now: datetime, policy: Policy) -> Decision:
    """To the referral unit, copied to the urgent request's TM/PM: a ``CANCEL`` in reply frees this slot."""
    case = view.case
    context = {
        "known": _listed(event.known, policy),
        "urgent": True,
        "urgent_case_id": event.urgent_case_id,
        "cancel_case_id": case.case_id,
    }
    mail = Mail(Purpose.OPEN_CASE_NOTICE, (Role.REFERRAL_UNIT,), (event.urgent_requester,), context)
    note = Note("open_case_notice", f"urgent request {event.urgent_case_id} for {', '.join(case.details.n_numbers)}")
    return Decision(emails=(mail,), history=(note,))
