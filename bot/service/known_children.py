"""Children already known (domain.md §3.4): the open cases a new request's N numbers already have."""

from __future__ import annotations

from bot.domain.model import Case
from bot.domain.open_cases import OpenCasesFound, UrgentForBookedChild, booked_discussions, known_cases
from bot.service.unit import Unit


def tell_of_open_cases(unit: Unit, case: Case) -> None:
    """The TM/PM and the referral unit told which cases already exist for the request's children.

    An URGENT request's notice about a booked standard discussion goes in that discussion's
    thread, so the referral unit's ``CANCEL`` in reply reaches the booking, not the enquiry.
    """
    tx = unit.tx
    candidates = [found for n in case.details.n_numbers for found in tx.cases_for(n)]
    bookings = {c.case_id: tx.booking_for(c.case_id) for c in candidates if c.case_id != case.case_id}
    known = known_cases(case, candidates, bookings)
    if not known:
        return
    unit.decide(case, OpenCasesFound(known))
    for booked in booked_discussions(case.kind, known):
        other = tx.case(booked.case_id)
        if other is not None:
            unit.decide(other, UrgentForBookedChild(case.case_id, case.details.requester.email or "", known))
