"""Issue 18: what a request reads stays bounded as the database grows (indexes, N numbers, bounded look-ups)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.adapters.local_calendar import LocalCalendar
from bot.adapters.sql_store import SqlStore
from bot.domain.model import CalendarEvent, CaseState, Interval, Kind, RequestDetails
from bot.ports import IncomingMail
from bot.wiring import Bot
from tests.support.requests_mail import london, request_email

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# The tables that grow with the years; a full scan of one of them per request is what issue 18 removes.
GROWING = ("cases", "case_numbers", "messages", "outbox", "timers", "history", "calendar_events", "bookings")


def _case(store: SqlStore, numbers: tuple[str, ...], state: CaseState = CaseState.BOOKED) -> str:
    with store.transaction() as tx:
        case = tx.add_case(Kind.STANDARD, state, RequestDetails(n_numbers=numbers), f"<{numbers}>", NOW, NOW)
    return case.case_id


def test_an_old_database_finds_each_childs_cases_by_any_of_its_n_numbers(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    store = SqlStore(f"sqlite:///{path}")
    store.migrate(NOW)
    both = _case(store, ("N100001", "N100002"))
    longer = _case(store, ("N1000011",))  # contains N100001 as text: never one of its cases
    closed = _case(store, ("N100002",), CaseState.CLOSED)
    store.dispose()
    # The database as revision 0007 left it: no N number table, none of the growth indexes.
    db = sqlite3.connect(path)
    db.execute("DROP TABLE case_numbers")
    for name in ("ix_calendar_events_end", "ix_outbox_created", "ix_outbox_recipient", "ix_outbox_sent_at"):
        db.execute(f"DROP INDEX {name}")
    db.execute("UPDATE alembic_version SET version_num = '0007'")
    db.commit()
    db.close()

    store = SqlStore(f"sqlite:///{path}")
    store.migrate(NOW)
    with store.transaction() as tx:
        assert [c.case_id for c in tx.cases_for("N100001")] == [both]
        assert [c.case_id for c in tx.cases_for("N100002")] == [both, closed]
        assert [c.case_id for c in tx.cases_for("N1000011")] == [longer]
        assert [c.case_id for c in tx.cases_for(closed)] == [closed]  # by case id
        found = tx.open_case_with_n_number(["N100002"])
        assert found is not None and found.case_id == both  # the closed one is not open
        # A correction of the details moves the case to its new numbers.
        tx.update_case(both, NOW, details=RequestDetails(n_numbers=("N100003",)))
        assert tx.cases_for("N100001") == []
        assert [c.case_id for c in tx.cases_for("N100003")] == [both]
    names = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_calendar_events_end", "ix_outbox_created", "ix_outbox_recipient", "ix_outbox_sent_at"} <= names
    store.dispose()


@pytest.fixture
def calendar(tmp_path: Path) -> Iterator[LocalCalendar]:
    store = SqlStore(f"sqlite:///{tmp_path / 'cal.sqlite3'}")
    store.migrate(NOW)
    yield LocalCalendar(store)
    store.dispose()


def _event(uid: str, start: datetime, end: datetime) -> CalendarEvent:
    return CalendarEvent(uid=uid, subject=uid, start=start, end=end, body="", attendees=())


def test_a_look_up_sees_an_event_that_began_days_before_it(calendar: LocalCalendar) -> None:
    day = datetime(2026, 12, 2, tzinfo=UTC)
    calendar.book(_event("leave", day - timedelta(days=3), day + timedelta(hours=12)))  # entered by hand
    calendar.book(_event("past", day - timedelta(days=5), day - timedelta(days=4)))
    calendar.book(_event("later", day + timedelta(hours=13), day + timedelta(hours=14)))
    assert calendar.busy(day, day + timedelta(days=1)) == [
        Interval(day - timedelta(days=3), day + timedelta(hours=12)),
        Interval(day + timedelta(hours=13), day + timedelta(hours=14)),
    ]
    assert [e.uid for e in calendar.events(day + timedelta(hours=11), day + timedelta(hours=14))] == ["leave", "later"]


class Statements:
    """Every SELECT, UPDATE and DELETE the store runs, with its parameters, for EXPLAIN QUERY PLAN."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")) and not many:
            self.seen.append((statement, parameters))


def test_a_request_reads_no_growing_table_whole(bot: Bot) -> None:
    statements = Statements()
    sent = london("2026-11-23 09:00")
    event.listen(bot.store.engine, "before_cursor_execute", statements)
    try:
        for i in range(3):
            raw = request_email(sent, message_id=f"<growth-{i}@council.example>", n_number=f"N20000{i}")
            bot.service.handle(IncomingMail(key=str(i), raw=raw, received_at=sent), sent)
        assert bot.delivery is not None
        bot.delivery.deliver_due(sent)
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", statements)
    assert len(statements.seen) > 20
    scans = []
    with bot.store.engine.connect() as conn:
        raw_conn = conn.connection.driver_connection
        assert raw_conn is not None
        for statement, parameters in statements.seen:
            plan = raw_conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            scans += [f"{row[3]}: {statement}" for row in plan if _scans(row[3])]
    assert scans == []


def _scans(detail: str) -> bool:
    """A plan step reading a growing table whole (SQLite says SCAN <table> without an index)."""
    words = detail.split()
    return len(words) >= 2 and words[0] == "SCAN" and words[1] in GROWING and "INDEX" not in detail
