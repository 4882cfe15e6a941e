"""The store's prepared statements (bot.adapters.sql_statements), on SQLite and on a real PostgreSQL.

Hot statements run on the driver's cursor rather than through ``Connection.execute``; what
SQLAlchemy did around them must still happen: the engine's statement listeners see them, a
full or read-only database is the one-line ``StorageError``, a refused row is SQLAlchemy's
``IntegrityError``. And the look-ups folded into one statement answer as the two did.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, text
from sqlalchemy.exc import IntegrityError

from bot.adapters.local_calendar import LocalCalendar
from bot.adapters.sql_schema import adapter_state
from bot.adapters.sql_statements import Prepared
from bot.adapters.sql_store import SqlStore
from bot.domain.compliance import ComplianceRecord
from bot.domain.model import CaseState, Kind, OutgoingEmail, RequestDetails, Requester
from bot.errors import SlotTaken, StorageError
from tests.support.port_contracts import contract_event
from tests.support.stores import ENGINES, new_store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    yield from new_store(request, tmp_path)


def details(*n_numbers: str, surname: str = "Example") -> RequestDetails:
    return RequestDetails(
        n_numbers=n_numbers, surname=surname, requester=Requester("A Worker", "", "sw@council.example")
    )


class Seen:
    """The statements the engine's ``before_cursor_execute`` listeners are given."""

    def __init__(self, store: SqlStore) -> None:
        self.statements: list[str] = []
        self._engine = store.engine
        event.listen(self._engine, "before_cursor_execute", self)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self)


def test_a_message_known_by_its_id_is_preferred_to_one_known_by_its_content(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.record_message("<first@council.example>", "hash-a", NOW, NOW, "standard", "processed", None, "SD000001")
        tx.record_message("<second@council.example>", "hash-b", NOW, NOW, "reply", "ignored", "a reason", None)
    seen = Seen(store)
    try:
        with store.transaction() as tx:
            # Its own id, another message's content: the message with that id.
            by_id = tx.seen_message("<second@council.example>", "hash-a")
            by_content = tx.seen_message("<resent@council.example>", "hash-a")
            unknown = tx.seen_message("<new@council.example>", "hash-new")
    finally:
        seen.close()
    assert by_id is not None and (by_id.message_id, by_id.kind, by_id.outcome, by_id.reason, by_id.case_id) == (
        "<second@council.example>",
        "reply",
        "ignored",
        "a reason",
        None,
    )
    assert by_content is not None and (by_content.message_id, by_content.case_id) == (
        "<first@council.example>",
        "SD000001",
    )
    assert unknown is None
    # The listeners saw each look-up, one statement each.
    assert len([s for s in seen.statements if "FROM messages" in s]) == 3


def test_a_reference_finds_the_case_of_that_id_first_then_the_cases_of_that_n_number(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_case(Kind.STANDARD, CaseState.CLOSED, details("N100001"), "<a@council.example>", NOW, NOW)
        tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N100001", "N100002"), "<b@council.example>", NOW, NOW)
        tx.add_case(Kind.URGENT, CaseState.AWAITING_CONTACT, details("N100002"), "<c@council.example>", NOW, NOW)
    seen = Seen(store)
    try:
        with store.transaction() as tx:
            by_number = tx.cases_for("N100001")
            by_id = tx.cases_for("SD000003")
            nothing = tx.cases_for("N999999")
            open_one = tx.open_case_with_n_number(["N100001"])
    finally:
        seen.close()
    assert [(c.case_id, c.state, c.details.surname) for c in by_number] == [
        ("SD000001", CaseState.CLOSED, "Example"),
        ("SD000002", CaseState.BOOKED, "Example"),
    ]
    assert [(c.case_id, c.kind, c.details.n_numbers) for c in by_id] == [("SD000003", Kind.URGENT, ("N100002",))]
    assert nothing == []
    assert open_one is not None and open_one.case_id == "SD000002"
    assert len([s for s in seen.statements if "FROM cases" in s]) == 4  # one statement per look-up


def test_the_compliance_record_is_replaced_whole_in_one_statement(store: SqlStore) -> None:
    first = ComplianceRecord(
        "SD000001", "standard", "booked", ("N100001",), NOW, NOW, complex=True, held_at=NOW, outcome="nfa"
    )
    second = ComplianceRecord("SD000001", "standard", "closed", ("N100001", "N100002"), NOW, NOW)
    with store.transaction() as tx:
        tx.put_compliance(first)
    seen = Seen(store)
    try:
        with store.transaction() as tx:
            tx.put_compliance(second)
    finally:
        seen.close()
    with store.transaction() as tx:
        records = tx.compliance_records()
    # Nothing of the first record is left: not its held_at, outcome or complex flag.
    assert records == [second]
    assert len([s for s in seen.statements if "compliance" in s]) == 1


def test_a_retried_booking_is_a_no_op_and_an_overlap_is_refused(store: SqlStore) -> None:
    calendar = LocalCalendar(store)
    with store.transaction():
        calendar.book(contract_event("a", "2026-11-25 10:00", "2026-11-25 10:30"))
    with store.transaction():
        calendar.book(contract_event("a", "2026-11-25 10:00", "2026-11-25 10:30"))  # the same booking again
    with pytest.raises(SlotTaken, match="overlaps 1 existing event"), store.transaction():
        calendar.book(contract_event("b", "2026-11-25 10:15", "2026-11-25 10:45"))
    assert [(e.uid, e.start) for e in calendar.all_events()] == [("a", datetime(2026, 11, 25, 10, 0, tzinfo=UTC))]


def test_a_refused_row_is_sqlalchemys_integrity_error_and_the_unit_rolls_back(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.record_message("<m@council.example>", "h", NOW, NOW, "standard", "processed", None, None)
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N100001"), "<a@council.example>", NOW, NOW)
        tx.record_message("<m@council.example>", "h", NOW, NOW, "standard", "processed", None, None)
    with store.connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0


def test_a_read_only_database_is_the_one_line_storage_error(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    store.check_schema()

    def read_only(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    event.listen(store.engine, "connect", read_only)
    store.engine.dispose()
    try:
        with pytest.raises(StorageError) as raised, store.transaction() as tx:
            tx.record_message("<m@council.example>", "h", NOW, NOW, "standard", "processed", None, None)
        assert str(raised.value) == (
            f"the database {tmp_path / 'bot.sqlite3'} is read-only: make it and its folder writable by the "
            "bot's user (and the disk mounted read-write)"
        )
    finally:
        store.dispose()


def test_on_sqlite_a_case_is_named_from_its_row_id_in_the_insert_itself(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    store.check_schema()
    try:
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.add_case(Kind.STANDARD, CaseState.BOOKED, details("N100001"), "<a@council.example>", NOW, NOW)
            raise RuntimeError("the unit fails: its case is rolled back")
        seen = Seen(store)
        try:
            with store.transaction() as tx:
                first = tx.add_case(
                    Kind.STANDARD, CaseState.BOOKED, details("N100001"), "<b@council.example>", NOW, NOW
                )
        finally:
            seen.close()
        with store.connection() as conn:
            conn.execute(text("UPDATE cases SET id = 999999 WHERE case_id = 'SD000001'"))
        with store.transaction() as tx:
            big = tx.add_case(Kind.URGENT, CaseState.BOOKED, details("N100002"), "<c@council.example>", NOW, NOW)
            found = tx.case("SD1000000")
            by_number = [c.case_id for c in tx.cases_for("N100001")]
        # As SQLite numbers rows: one above the largest, a rolled-back row's id given again.
        assert (first.case_id, big.case_id) == ("SD000001", "SD1000000")
        assert found == big
        assert by_number == ["SD000001"]
        assert len([s for s in seen.statements if s.startswith(("INSERT INTO cases", "UPDATE cases"))]) == 1
    finally:
        store.dispose()


def test_outside_a_transaction_a_prepared_statement_begins_one_as_sqlalchemy_would(store: SqlStore) -> None:
    put = Prepared(insert(adapter_state).values(key=bindparam("key"), value=bindparam("value"), updated_at="now"))
    with store.engine.connect() as conn:
        put.run(conn, {"key": "left", "value": "uncommitted"})  # closed without a commit: rolled back
    with store.engine.connect() as conn:
        put.run(conn, {"key": "kept", "value": "committed"})
        conn.commit()
    assert store.get_state("left") is None
    assert store.get_state("kept") == "committed"


def test_recent_emails_are_counted_by_purposes_since_a_moment_and_recipient(store: SqlStore) -> None:
    def queue(tx: Any, n: int, purpose: str, to: str, at: datetime) -> None:
        tx.queue_email(OutgoingEmail(purpose, (to,), (), "s", "t", "h", f"<{n}@bot.example>", case_id=None), b"x", at)

    later = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    with store.transaction() as tx:
        queue(tx, 1, "triage_reply", "a@council.example", NOW)
        queue(tx, 2, "triage_reply", "a@council.example", later)
        queue(tx, 3, "command_reply", "b@council.example", later)
        queue(tx, 4, "confirmation", "a@council.example", later)
    with store.transaction() as tx:
        assert tx.count_recent_emails(("triage_reply",), NOW) == 2
        assert tx.count_recent_emails(("triage_reply",), later) == 1
        assert tx.count_recent_emails(("triage_reply", "command_reply"), later) == 2
        assert tx.count_recent_emails(("triage_reply", "command_reply"), NOW, "a@council.example") == 2
        assert tx.count_recent_emails(("command_reply", "triage_reply", "x"), NOW, "b@council.example") == 1
        assert tx.count_recent_emails((), NOW) == 0


def test_a_slice_of_the_closing_check_is_read_in_one_statement(store: SqlStore) -> None:
    states = [CaseState.CLOSED, CaseState.BOOKED, CaseState.CANCELLED, CaseState.CLOSED, CaseState.NEEDS_PERSON]
    with store.transaction() as tx:
        for n, state in enumerate(states):
            tx.add_case(Kind.STANDARD, state, details(f"N20000{n}"), f"<{n}@council.example>", NOW, NOW)
    seen = Seen(store)
    try:
        with store.transaction() as tx:
            every = tx.cases_to_check_for_closing()
            first = tx.cases_to_check_for_closing(limit=1)
            rest = tx.cases_to_check_for_closing(after="SD000002")
            next_one = tx.cases_to_check_for_closing(after="SD000002", limit=1)
    finally:
        seen.close()
    assert [(c.case_id, c.state, c.details.n_numbers) for c in every] == [
        ("SD000002", CaseState.BOOKED, ("N200001",)),
        ("SD000003", CaseState.CANCELLED, ("N200002",)),
        ("SD000005", CaseState.NEEDS_PERSON, ("N200004",)),
    ]
    assert [c.case_id for c in first] == ["SD000002"]
    assert [c.case_id for c in rest] == ["SD000003", "SD000005"]
    assert [c.case_id for c in next_one] == ["SD000003"]
    assert len([s for s in seen.statements if "FROM cases" in s]) == 4  # one per slice, not one per case
