"""What `strategy-bot status` shows, read in a fixed number of queries whatever the size of the store.

Counts come from GROUP BY and COUNT; lists are the first ``limit`` rows in the order they
matter (the next bookings and timers, the longest-open cases), never every row. No column
holding personal data is read: N numbers come from ``cases.n_numbers``, never the details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from bot.adapters import sql_schema as t
from bot.adapters.sql_outbox import WAITING
from bot.adapters.sql_quarantine import summary
from bot.adapters.sql_rows import from_utc_text, utc_text
from bot.domain.model import CaseState

_CLOSED = (CaseState.CANCELLED.value, CaseState.CLOSED.value)
# Named, not "NOT IN the closed ones", so that ix_cases_state reads the open cases alone.
_OPEN = tuple(state.value for state in CaseState if state.value not in _CLOSED)


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


def overview(conn: Connection, now: datetime, limit: int | None) -> Overview:
    """Nine queries, whatever the number of cases, bookings and timers; ``limit`` None lists everything."""
    c, b, tm = t.cases.c, t.bookings.c, t.timers.c
    stamp = utc_text(now)
    open_counts = [
        (r.kind, r.state, int(r.n))
        for r in conn.execute(
            select(c.kind, c.state, func.count().label("n"))
            .where(c.state.in_(_OPEN))
            .group_by(c.kind, c.state)
            .order_by(c.kind, c.state)
        )
    ]
    open_cases = [
        OpenCase(r.case_id, r.kind, r.state, _numbers(r.n_numbers))
        for r in conn.execute(
            select(c.case_id, c.kind, c.state, c.n_numbers).where(c.state.in_(_OPEN)).order_by(c.id).limit(limit)
        )
    ]
    live = (b.status == "booked") & (b.end > stamp)
    bookings = int(conn.execute(select(func.count()).select_from(t.bookings).where(live)).scalar_one())
    next_bookings = [
        Upcoming(r.case_id, from_utc_text(r.start), from_utc_text(r.end), _numbers(r.n_numbers))
        for r in conn.execute(
            select(b.case_id, b.start, b.end, c.n_numbers)
            .select_from(t.bookings.outerjoin(t.cases, c.case_id == b.case_id))
            .where(live)
            .order_by(b.start, b.id)
            .limit(limit)
        )
    ]
    pending = tm.status == "pending"
    # Two counts from ix_timers_due: the overdue ones are a range of it (a CASE per pending timer
    # cost three times the plain count at 100,000 timers).
    timers = conn.execute(select(func.count()).select_from(t.timers).where(pending)).scalar_one()
    overdue = conn.execute(select(func.count()).select_from(t.timers).where(pending, tm.due_at < stamp)).scalar_one()
    next_timers = [
        Due(from_utc_text(r.due_at), r.purpose, r.case_id)
        for r in conn.execute(
            select(tm.due_at, tm.purpose, tm.case_id).where(pending).order_by(tm.due_at, tm.id).limit(limit)
        )
    ]
    waiting = select(func.count()).select_from(t.outbox).where(t.outbox.c.status.in_(WAITING))
    emails_waiting = int(conn.execute(waiting).scalar_one())
    quarantined, oldest = summary(conn)
    return Overview(
        open_counts,
        open_cases,
        bookings,
        next_bookings,
        int(timers),
        int(overdue),
        next_timers,
        emails_waiting,
        quarantined,
        oldest,
    )
