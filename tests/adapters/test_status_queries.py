"""Issue 18: `status` and `metrics` read indexes, not every case, booking, message and email ever stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.adapters.sql_head import HEAD
from bot.adapters.sql_overview import Overview, overview
from bot.adapters.sql_store import SqlStore
from bot.domain.model import Booking, CaseState, Kind, RequestDetails
from bot.domain.records import Tally

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# The tables that grow with the years (as in test_growth_queries.py).
GROWING = ("cases", "case_numbers", "messages", "outbox", "timers", "history", "calendar_events", "bookings")
NEW_INDEXES = ("ix_cases_state", "ix_bookings_live", "ix_messages_outcome", "ix_outbox_purpose")


def _filled(path: Path) -> SqlStore:
    """Closed cases of years past, two open ones, a booking over and one to come, timers, a quarantined message."""
    store = SqlStore(f"sqlite:///{path}")
    store.migrate(NOW)
    with store.transaction() as tx:
        for i in range(30):
            old = NOW - timedelta(days=400 - i)
            case = tx.add_case(
                Kind.STANDARD, CaseState.CLOSED, RequestDetails(n_numbers=(f"N3{i:05d}",)), f"<o{i}>", old, old
            )
            tx.add_booking(Booking(case.case_id, f"old-{i}@x.example", old, old + timedelta(minutes=15)))
            tx.add_timer(f"old-{i}", case.case_id, "minutes_reminder", old + timedelta(days=1))
        waiting = tx.add_case(
            Kind.STANDARD, CaseState.NEEDS_PERSON, RequestDetails(n_numbers=("N400001",)), "<a>", NOW, NOW
        )
        booked = tx.add_case(Kind.STANDARD, CaseState.BOOKED, RequestDetails(n_numbers=("N400002",)), "<b>", NOW, NOW)
        start = NOW + timedelta(days=2)
        tx.add_booking(Booking(booked.case_id, "next@x.example", start, start + timedelta(minutes=15)))
        tx.add_timer("next", booked.case_id, "minutes_reminder", start + timedelta(days=1))
        tx.record_message("<q>", "f" * 64, NOW - timedelta(hours=2), NOW, "unrecognised", "quarantine", "x", None)
        tx.record_message("<p>", "e" * 64, NOW, NOW, "standard", "processed", None, waiting.case_id)
    return store


def _plans(store: SqlStore, read: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What ``read()`` returns, and SQLite's query plan of every statement it ran."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        result = read()
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        plans = [
            f"{row[3]}: {' '.join(statement.split())}"
            for statement, parameters in seen
            if statement.lstrip().upper().startswith("SELECT")
            for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        ]
    assert plans
    return result, plans


def _overview(store: SqlStore) -> Overview:
    with store.engine.connect() as conn:
        return overview(conn, NOW, 10)


def _tallies(store: SqlStore) -> list[Tally]:
    with store.transaction() as tx:
        return tx.tallies()


def _scans(plans: list[str]) -> list[str]:
    """Plan steps reading a growing table row by row (SQLite says SCAN <table> without an index)."""
    return [p for p in plans if p.split()[0] == "SCAN" and p.split()[1] in GROWING and "INDEX" not in p.split(":")[0]]


def test_status_reads_the_open_cases_live_bookings_and_quarantine_through_indexes(tmp_path: Path) -> None:
    store = _filled(tmp_path / "bot.sqlite3")
    try:
        shown, plans = _plans(store, lambda: _overview(store))
    finally:
        store.dispose()
    # What `status` shows: the open cases alone, the booking to come, every pending timer.
    assert shown.open_counts == [("standard", "booked", 1), ("standard", "needs_person", 1)]
    assert [c.n_numbers for c in shown.open_cases] == [("N400001",), ("N400002",)]
    assert shown.bookings == 1 and [b.n_numbers for b in shown.next_bookings] == [("N400002",)]
    assert (shown.timers, shown.overdue) == (31, 30)
    assert (shown.quarantined, shown.oldest_quarantined) == (1, NOW - timedelta(hours=2))
    assert _scans(plans) == []
    used = " ".join(plans)
    assert all(name in used for name in ("ix_cases_state", "ix_bookings_live", "ix_messages_outcome")), plans


def test_metrics_counts_cases_and_emails_from_indexes_alone(tmp_path: Path) -> None:
    store = _filled(tmp_path / "bot.sqlite3")
    try:
        counts, plans = _plans(store, lambda: _tallies(store))
    finally:
        store.dispose()
    assert ("cases", ("standard", "closed"), 30) in counts
    for table, index in (("cases", "ix_cases_state"), ("outbox", "ix_outbox_purpose")):
        steps = [p.split(":")[0] for p in plans if p.split()[1] == table]
        assert steps and all(f"COVERING INDEX {index}" in s for s in steps), plans


def test_revision_0009_adds_the_indexes_to_a_database_at_0008(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    _filled(path).dispose()
    db = sqlite3.connect(path)
    for name in NEW_INDEXES:
        db.execute(f"DROP INDEX {name}")
    db.execute("UPDATE alembic_version SET version_num = '0008'")
    db.commit()
    db.close()
    store = SqlStore(f"sqlite:///{path}")
    try:
        assert store.migrate(NOW) == HEAD  # 0009 and every revision after it
        names = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert set(NEW_INDEXES) <= names
        shown, plans = _plans(store, lambda: _overview(store))
        assert shown.open_counts == [("standard", "booked", 1), ("standard", "needs_person", 1)]
        assert _scans(plans) == []
    finally:
        store.dispose()
