"""What the referral unit's board shows (issue 14 item 5), read from the store at ``now``.

Urgent cases waiting for police contact with when it is due; today's and the next meeting
day's discussions; what waits for a person (no free slot, missing details, quarantine with the
bot's reasons). N numbers and case ids only: no name, date of birth, address or allegation
leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.domain.compliance import compliance_record
from bot.domain.deadlines import at_local
from bot.domain.model import Case, CaseState, Kind
from bot.ports import StoreTransaction
from bot.service.setup import Setup

QUARANTINE_SHOWN = 50


@dataclass(frozen=True)
class Urgent:
    """A case waiting for police to ring: the call-back (urgent) or the emergency deadline (§3.4)."""

    case_id: str
    n_numbers: tuple[str, ...]
    started: datetime
    due: datetime
    what: str

    def overdue(self, now: datetime) -> bool:
        return now >= self.due


@dataclass(frozen=True)
class Discussion:
    case_id: str
    n_numbers: tuple[str, ...]
    start: datetime
    end: datetime
    urgent: bool
    complex: bool


@dataclass(frozen=True)
class ForAPerson:
    """Something the bot could not finish: why, since when, its case if it has one."""

    what: str  # "no free slot", "missing details", "quarantined"
    since: datetime
    case_id: str | None
    n_numbers: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Board:
    now: datetime
    urgent: tuple[Urgent, ...]
    today: date
    today_discussions: tuple[Discussion, ...]
    next_day: date | None
    next_discussions: tuple[Discussion, ...]
    for_a_person: tuple[ForAPerson, ...]
    week: tuple[date, date]  # Monday to Sunday of ``now``: the charts' period


def next_meeting_day(today: date, setup: Setup) -> date | None:
    schedule = setup.policy.schedule
    day = today
    for _ in range(31):
        day += timedelta(days=1)
        if day.weekday() in schedule.meeting_days and setup.days.is_working_day(day):
            return day
    return None


def _discussions(tx: StoreTransaction, day: date | None, setup: Setup) -> tuple[Discussion, ...]:
    if day is None:
        return ()
    start = at_local(day, time(0), setup.tz)
    found = []
    for booking in tx.bookings_between(start, start + timedelta(days=1)):
        case = tx.case(booking.case_id)
        if case is None or case.state in (CaseState.CANCELLED, CaseState.CLOSED):
            continue
        urgent = case.kind is Kind.URGENT or case.details.emergency_action is not None
        found.append(
            Discussion(case.case_id, case.details.n_numbers, booking.start, booking.end, urgent, case.details.complex)
        )
    return tuple(found)


def _urgent(tx: StoreTransaction, case: Case, setup: Setup, now: datetime) -> Urgent | None:
    history = tx.history(case.case_id)
    record = compliance_record(
        case, tx.booking_for(case.case_id), history, tx.timers_for(case.case_id), setup.policy, now
    )
    if record.callback_due is not None and record.clock_start is not None:
        return Urgent(case.case_id, case.details.n_numbers, record.clock_start, record.callback_due, "police call-back")
    if record.discussion_due is not None:
        return Urgent(
            case.case_id,
            case.details.n_numbers,
            case.received_at,
            record.discussion_due,
            "emergency action: no rota slot",
        )
    return None


def _since(tx: StoreTransaction, case: Case, action: str) -> tuple[datetime, str]:
    found = [h for h in tx.history(case.case_id) if h.action == action]
    return (found[-1].at, found[-1].detail) if found else (case.received_at, "")


def board(setup: Setup, now: datetime) -> Board:
    """The board as it stands at ``now``, read in one transaction."""
    tz = setup.tz
    today = now.astimezone(tz).date()
    following = next_meeting_day(today, setup)
    monday = today - timedelta(days=today.weekday())
    urgent: list[Urgent] = []
    people: list[ForAPerson] = []
    with setup.store.transaction() as tx:
        for case in tx.open_cases():
            if case.state is CaseState.AWAITING_CONTACT:
                found = _urgent(tx, case, setup, now)
                if found is not None:
                    urgent.append(found)
            elif case.state is CaseState.NEEDS_PERSON:
                since, _ = _since(tx, case, "needs_person")
                people.append(ForAPerson("no free slot", since, case.case_id, case.details.n_numbers, "book by hand"))
            elif case.state is CaseState.AWAITING_INFORMATION:
                since, fields = _since(tx, case, "awaiting_information")
                detail = "missing: " + fields.replace("_", " ") if fields else "details missing"
                people.append(ForAPerson("missing details", since, case.case_id, case.details.n_numbers, detail))
        for item in tx.quarantined(QUARANTINE_SHOWN):
            people.append(ForAPerson("quarantined", item.received_at, item.case_id, (), item.reason))
        today_list = _discussions(tx, today, setup)
        next_list = _discussions(tx, following, setup)
    return Board(
        now=now,
        urgent=tuple(sorted(urgent, key=lambda u: u.due)),
        today=today,
        today_discussions=today_list,
        next_day=following,
        next_discussions=next_list,
        for_a_person=tuple(sorted(people, key=lambda p: p.since)),
        week=(monday, monday + timedelta(days=6)),
    )
