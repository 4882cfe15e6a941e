"""What `strategy-bot status` shows, read in a fixed number of queries whatever the size of the store.

Counts come from GROUP BY and COUNT; lists are the first ``limit`` rows in the order they
matter (the next bookings and timers, the longest-open cases), never every row. No column
holding personal data is read: N numbers come from ``cases.n_numbers``, never the details.

The queries are plain SQL with named parameters, which SQLite's own driver and SQLAlchemy's
``text()`` both take as written: ``status`` on SQLite runs them through the standard library
(``sqlite_reader``) without importing SQLAlchemy (about half of the command's time), and on
PostgreSQL, or inside the bot, through the store's SQLAlchemy connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.domain.model import CaseState

if TYPE_CHECKING:
    from sqlalchemy import Connection

_CLOSED = (CaseState.CANCELLED.value, CaseState.CLOSED.value)
# Named, not "NOT IN the closed ones", so that ix_cases_state reads the open cases alone.
_OPEN = tuple(state.value for state in CaseState if state.value not in _CLOSED)
# The same values as sql_outbox.WAITING and sql_quarantine.QUARANTINE (whose modules import
# SQLAlchemy); tests/adapters/test_status_reader.py holds them equal.
WAITING = ("pending", "sending")
QUARANTINE = "quarantine"

_IN_OPEN = ", ".join(f":open{i}" for i in range(len(_OPEN)))
_OPEN_COUNTS = (
    f"SELECT kind, state, count(*) FROM cases WHERE state IN ({_IN_OPEN}) GROUP BY kind, state ORDER BY kind, state"
)
_OPEN_CASES = f"SELECT case_id, kind, state, n_numbers FROM cases WHERE state IN ({_IN_OPEN}) ORDER BY id"
_LIVE = "bookings.status = 'booked' AND bookings.\"end\" > :now"
_BOOKINGS = f"SELECT count(*) FROM bookings WHERE {_LIVE}"
_NEXT_BOOKINGS = (
    'SELECT bookings.case_id, bookings.start, bookings."end", cases.n_numbers '
    f"FROM bookings LEFT OUTER JOIN cases ON cases.case_id = bookings.case_id WHERE {_LIVE} "
    "ORDER BY bookings.start, bookings.id"
)
# Two counts from ix_timers_due: the overdue ones are a range of it (a CASE per pending timer
# cost three times the plain count at 100,000 timers).
_TIMERS = "SELECT count(*) FROM timers WHERE status = 'pending'"
_OVERDUE = "SELECT count(*) FROM timers WHERE status = 'pending' AND due_at < :now"
_NEXT_TIMERS = "SELECT due_at, purpose, case_id FROM timers WHERE status = 'pending' ORDER BY due_at, id"
_IN_WAITING = ", ".join(f":waiting{i}" for i in range(len(WAITING)))
_WAITING = f"SELECT count(*) FROM outbox WHERE status IN ({_IN_WAITING})"
_QUARANTINED = "SELECT count(*), min(received_at) FROM messages WHERE outcome = :quarantine"

Rows = Callable[[str, Mapping[str, object]], Sequence[Sequence[Any]]]


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    kind: str
    state: str
    n_numbers: tuple[str, ...]


@dataclass(frozen=True)
class Upcoming:
    case_id: str
    start: datetime
    end: datetime
    n_numbers: tuple[str, ...]


@dataclass(frozen=True)
class Due:
    due_at: datetime
    purpose: str
    case_id: str | None


@dataclass(frozen=True)
class Overview:
    open_counts: list[tuple[str, str, int]]  # (kind, state, how many) of the open cases
    open_cases: list[OpenCase]  # the longest open first
    bookings: int  # booked and not yet over
    next_bookings: list[Upcoming]
    timers: int  # pending
    overdue: int
    next_timers: list[Due]
    emails_waiting: int
    quarantined: int
    oldest_quarantined: datetime | None


def _numbers(text: str | None) -> tuple[str, ...]:
    return tuple(n for n in (text or "").split(",") if n)


def _utc(text: str) -> datetime:
    """As ``sql_rows.from_utc_text``."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _rows(conn: Connection | sqlite3.Connection) -> Rows:
    """Run one statement on SQLite's own connection, or on SQLAlchemy's through ``text()``."""
    if isinstance(conn, sqlite3.Connection):
        return lambda sql, params: conn.execute(sql, params).fetchall()
    from sqlalchemy import text

    return lambda sql, params: conn.execute(text(sql), params).all()


def _limited(sql: str, params: Mapping[str, object], limit: int | None) -> tuple[str, Mapping[str, object]]:
    return (sql, params) if limit is None else (f"{sql} LIMIT :limit", {**params, "limit": limit})


def overview(conn: Connection | sqlite3.Connection, now: datetime, limit: int | None) -> Overview:
    """Nine queries, whatever the number of cases, bookings and timers; ``limit`` None lists everything."""
    rows = _rows(conn)
    if now.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must be timezone-aware")
    stamp = {"now": now.astimezone(UTC).isoformat(timespec="seconds")}  # as sql_rows.utc_text
    open_states = {f"open{i}": state for i, state in enumerate(_OPEN)}
    open_counts = [(kind, state, int(n)) for kind, state, n in rows(_OPEN_COUNTS, open_states)]
    open_cases = [
        OpenCase(case_id, kind, state, _numbers(numbers))
        for case_id, kind, state, numbers in rows(*_limited(_OPEN_CASES, open_states, limit))
    ]
    bookings = int(rows(_BOOKINGS, stamp)[0][0])
    next_bookings = [
        Upcoming(case_id, _utc(start), _utc(end), _numbers(numbers))
        for case_id, start, end, numbers in rows(*_limited(_NEXT_BOOKINGS, stamp, limit))
    ]
    timers = int(rows(_TIMERS, {})[0][0])
    overdue = int(rows(_OVERDUE, stamp)[0][0])
    next_timers = [
        Due(_utc(due_at), purpose, case_id) for due_at, purpose, case_id in rows(*_limited(_NEXT_TIMERS, {}, limit))
    ]
    emails_waiting = int(rows(_WAITING, {f"waiting{i}": status for i, status in enumerate(WAITING)})[0][0])
    quarantined, oldest = rows(_QUARANTINED, {"quarantine": QUARANTINE})[0]
    return Overview(
        open_counts,
        open_cases,
        bookings,
        next_bookings,
        timers,
        overdue,
        next_timers,
        emails_waiting,
        int(quarantined),
        _utc(oldest) if oldest else None,
    )
