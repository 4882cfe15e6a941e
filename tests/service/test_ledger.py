"""Issue 18: what a unit of work keeps of the cases it writes is what the store then holds of them.

``Recording`` (bot/service/ledger.py) passes each write to a real SQLite store and keeps the case,
its booking, history and timers as it goes; after every write the kept parts are compared with
the store's own answers (instants given to the microsecond, as the clock gives them; the store
keeps them to the second).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.sql_store import SqlStore
from bot.domain.model import Booking, CaseState, Kind, RequestDetails, Requester
from bot.domain.records import TimerRow
from bot.ports import StoreTransaction
from bot.service.ledger import Recording

NOW = datetime(2026, 11, 23, 9, 0, 7, 654321, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    made = SqlStore(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    made.check_schema()
    yield made
    made.dispose()


def details(*n_numbers: str, complex_case: bool = False) -> RequestDetails:
    requester = Requester(name="A Worker", phone="01632 960000", email="sw@council.example")
    return RequestDetails(n_numbers=n_numbers, surname="Example", requester=requester, complex=complex_case)


def timer_rows(timers: list[TimerRow]) -> list[tuple[object, ...]]:
    """Everything of a timer but its row id (the ledger numbers the rows it adds itself), in order."""
    return [(t.key, t.case_id, t.purpose, t.due_at, t.detail, t.status, t.late, t.scope) for t in timers]


def same(ledger: Recording, tx: StoreTransaction, case_id: str) -> None:
    assert ledger.known_case(case_id) == tx.case(case_id)
    assert ledger.known_booking(case_id) == tx.booking_for(case_id)
    assert ledger.known_history(case_id) == tx.history(case_id)
    assert timer_rows(ledger.known_timers(case_id)) == timer_rows(tx.timers_for(case_id))


def changes(ledger: Recording, case_id: str, at: datetime) -> Iterator[None]:
    """Each kind of write the unit makes to a case, one at a time."""
    ledger.add_history(case_id, at, "bot", "received", "standard request")
    yield
    ledger.add_timer(f"{case_id}:reminder:b1:", case_id, "reminder", at + timedelta(days=1, microseconds=5))
    ledger.add_timer(f"{case_id}:minutes_overdue:b1:", case_id, "minutes_overdue", at + timedelta(hours=3), "", "b1")
    ledger.add_timer(f"{case_id}:minutes_overdue:b1:", case_id, "minutes_overdue", at + timedelta(hours=9), "", "b1")
    ledger.add_timer(f"{case_id}:escalation:b2:1", case_id, "escalation", at + timedelta(hours=3), "1", "b2")
    yield
    start = at + timedelta(days=2, microseconds=1)
    ledger.add_booking(Booking(case_id, f"{case_id}@bot.example", start, start + timedelta(minutes=15)))
    yield
    ledger.cancel_timers(case_id, ("minutes_overdue", "reminder"), "b1")
    yield
    ledger.set_booking(case_id, start + timedelta(hours=1), start + timedelta(hours=1, minutes=30), 1, "booked")
    ledger.update_case(case_id, at, state=CaseState.HELD, details=details("N146782", "N146783", complex_case=True))
    yield
    ledger.update_case(case_id, at, effective_day=date(2026, 11, 24))
    ledger.add_history(case_id, at + timedelta(seconds=1), "tm@council.example", "held", "", "<r@council.example>")
    ledger.add_timer(f"{case_id}:minutes_overdue:b1:2", case_id, "minutes_overdue", at + timedelta(hours=2), "2", "b1")
    yield
    ledger.cancel_timers(case_id)
    ledger.set_booking(case_id, start, start, 2, "cancelled")
    yield
    ledger.add_booking(Booking(case_id, f"{case_id}.moved@bot.example", start, start + timedelta(minutes=15)))
    ledger.add_booking(replace(Booking(case_id, "old@bot.example", start, start), status="superseded"))
    yield


def test_a_new_case_kept_as_the_store_holds_it_after_each_write(store: SqlStore) -> None:
    with store.transaction() as tx:
        ledger = Recording(tx)
        new = details("N146782")
        case = ledger.add_case(Kind.URGENT, CaseState.AWAITING_CONTACT, new, "<r@x.example>", NOW, NOW, clock_start=NOW)
        same(ledger, tx, case.case_id)
        for _ in changes(ledger, case.case_id, NOW):
            same(ledger, tx, case.case_id)
        assert len(ledger.known_history(case.case_id)) == 2 and len(ledger.known_timers(case.case_id)) == 4


def test_a_case_read_in_a_later_unit_is_kept_from_what_was_read(store: SqlStore) -> None:
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N146782"), "<r@council.example>", NOW, NOW)
        tx.add_history(case.case_id, NOW, "bot", "read", "")
        # Rows in another order than their due times, one due with those the unit adds (the ties go by row).
        later = NOW + timedelta(days=1)
        for n, hours in enumerate((6, 4, 5, 3)):
            tx.add_timer(f"{case.case_id}:escalation::{n}", case.case_id, "escalation", later + timedelta(hours=hours))
    with store.transaction() as tx:
        ledger = Recording(tx)
        same(ledger, tx, case.case_id)  # read, and kept from here on
        for _ in changes(ledger, case.case_id, NOW + timedelta(days=1)):
            same(ledger, tx, case.case_id)


def test_a_timer_fired_by_its_id_is_read_again(store: SqlStore) -> None:
    with store.transaction() as tx:
        ledger = Recording(tx)
        case = ledger.add_case(Kind.STANDARD, CaseState.BOOKED, details("N146782"), "<r@council.example>", NOW, NOW)
        ledger.add_timer(f"{case.case_id}:reminder::", case.case_id, "reminder", NOW)
        [timer] = tx.timers_for(case.case_id)
        ledger.mark_timer_fired(timer.id, NOW, late=False)
        same(ledger, tx, case.case_id)
        ledger.cancel_timers(case.case_id)  # only pending ones
        same(ledger, tx, case.case_id)
        assert [t.status for t in ledger.known_timers(case.case_id)] == ["fired"]


def test_what_the_unit_reads_through_it_is_the_store_s_answer_and_is_kept(store: SqlStore) -> None:
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N146782"), "<r@council.example>", NOW, NOW)
        tx.add_history(case.case_id, NOW, "bot", "read", "")
        start = NOW + timedelta(days=2)
        tx.add_booking(Booking(case.case_id, "b@bot.example", start, start + timedelta(minutes=15)))
        for n, hours in enumerate((6, 4, 5, 3)):
            tx.add_timer(f"{case.case_id}:escalation::{n}", case.case_id, "escalation", NOW + timedelta(hours=hours))
    with store.transaction() as tx:
        ledger = Recording(tx)
        # As the service's own code reads through the unit's transaction: the store's answers, unchanged.
        assert ledger.case(case.case_id) == tx.case(case.case_id)
        assert ledger.booking_for(case.case_id) == tx.booking_for(case.case_id)
        assert ledger.history(case.case_id) == tx.history(case.case_id)
        assert ledger.timers_for(case.case_id) == tx.timers_for(case.case_id)
        same(ledger, tx, case.case_id)
        for _ in changes(ledger, case.case_id, NOW + timedelta(days=1)):
            same(ledger, tx, case.case_id)
            assert ledger.timers_for(case.case_id) == tx.timers_for(case.case_id)
