"""The compliance record on both engines (issue 14 item 1): written with the change, rolled back with it,
back-filled for cases that predate it; and the board's quarantine list."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.adapters.sql_store import SqlStore
from bot.config import load_config
from bot.domain.compliance import ComplianceRecord
from bot.domain.model import Booking, CaseState, Kind
from bot.domain.working_days import WorkingDays
from bot.service.compliance import backfill_compliance
from bot.service.setup import policy_for
from tests.adapters.test_store_contract import details, store  # noqa: F401 - the two-engine store fixture

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONFIG = load_config(None)
POLICY = policy_for(CONFIG, WorkingDays.from_schedule(CONFIG.schedule))


def record(case_id: str, **instants: object) -> ComplianceRecord:
    return ComplianceRecord(case_id, "urgent", "awaiting_contact", ("N146782", "N146783"), NOW, NOW, **instants)  # type: ignore[arg-type]


def test_a_record_is_written_replaced_and_read_back_whole(store: SqlStore) -> None:  # noqa: F811
    first = record("SD000001", clock_start=NOW, callback_due=NOW + timedelta(minutes=60))
    later = replace(
        first,
        state="contacted",
        contacted_at=NOW + timedelta(minutes=45),
        effective_day=date(2026, 11, 23),
        complex=True,
        outcome="joint S47",
    )
    with store.transaction() as tx:
        tx.put_compliance(first)
    with store.transaction() as tx:
        tx.put_compliance(later)
    with store.transaction() as tx:
        assert tx.compliance_records() == [later]
        assert tx.compliance_records(since=NOW + timedelta(seconds=1)) == []


def test_a_record_rolls_back_with_its_unit_of_work(store: SqlStore) -> None:  # noqa: F811
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_compliance(record("SD000001"))
        raise RuntimeError("the change failed")
    with store.transaction() as tx:
        assert tx.compliance_records() == []


def test_cases_that_predate_the_record_are_back_filled_from_their_history(store: SqlStore) -> None:  # noqa: F811
    received = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N146782"), "<r@x.example>", received, received)
        start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
        tx.add_booking(Booking(case.case_id, "uid-1@bot.example", start, start + timedelta(minutes=15)))
        tx.add_history(case.case_id, start + timedelta(hours=1), "tm@council.example", "held")
        assert tx.cases_without_compliance() == [case.case_id]
        assert backfill_compliance(tx, POLICY, NOW) == 1
        assert tx.cases_without_compliance() == []
        assert backfill_compliance(tx, POLICY, NOW) == 0
        [made] = tx.compliance_records()
    assert (made.case_id, made.n_numbers, made.meeting_at) == (case.case_id, ("N146782",), start)
    assert made.held_at == start + timedelta(hours=1)
    # Effective Mon 23 Nov: due by the end of Thu 26 Nov, London time.
    assert made.discussion_due == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


def test_quarantined_messages_are_listed_newest_first_until_released(store: SqlStore) -> None:  # noqa: F811
    with store.transaction() as tx:
        for n, outcome in enumerate(("quarantine", "processed", "quarantine")):
            at = NOW + timedelta(minutes=n)
            tx.record_message(f"<m{n}@x.example>", f"h{n}", at, at, "standard", outcome, f"reason {n}", None)
        listed = tx.quarantined(10)
    assert [(q.reason, q.received_at) for q in listed] == [
        ("reason 2", NOW + timedelta(minutes=2)),
        ("reason 0", NOW),
    ]
