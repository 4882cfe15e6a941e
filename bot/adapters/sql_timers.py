"""The SQL store's timers: deadlines written with the case change that sets them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_pending import HeldRows
from bot.adapters.sql_rows import InsertIfNew, from_utc_text, utc_text
from bot.domain.records import TimerRow

# Statements built once: building and coercing a statement costs more than running it.
_INSERT_TIMER_IF_NEW = InsertIfNew(t.timers, "key")
_TIMERS_OF_CASE = (
    select(t.timers).where(t.timers.c.case_id == bindparam("case_id")).order_by(t.timers.c.due_at, t.timers.c.id)
)


class TimerRows(HeldRows):
    """The ``Timers`` port on SQL (and ``HeldTimers``: timers written with the batch's others).

    Timers held by ``hold_timer`` are written before anything here reads or changes a timer,
    and before the commit (``sql_pending``).
    """

    def add_timer(
        self, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str = "", scope: str = ""
    ) -> bool:
        self.flush_timers()  # a held timer of this key: the answer is False, as the store will hold it
        # One statement instead of a look-up and an insert (this runs five times per booking),
        # and two instances scheduling the same deadline at once still make one row.
        return _INSERT_TIMER_IF_NEW(self.conn, _row(key, case_id, purpose, due_at, detail, scope))

    def hold_timer(
        self, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str = "", scope: str = ""
    ) -> None:
        """``add_timer`` for a key the caller knows is new, without the answer: written with the batch's others."""
        row = _row(key, case_id, purpose, due_at, detail, scope)
        if self.pending is None:
            _INSERT_TIMER_IF_NEW(self.conn, row)
        else:
            self.pending.timers.append(row)

    def cancel_timers(self, case_id: str, purposes: tuple[str, ...] | None = None, scope: str | None = None) -> int:
        self.flush_timers()
        query = update(t.timers).where(t.timers.c.case_id == case_id).where(t.timers.c.status == "pending")
        if purposes is not None:
            query = query.where(t.timers.c.purpose.in_(purposes))
        if scope is not None:
            query = query.where(t.timers.c.scope == scope)
        return int(self.conn.execute(query.values(status="cancelled")).rowcount)

    def timers_for(self, case_id: str) -> list[TimerRow]:
        self.flush_timers()
        if case_id is None:  # the daily agenda's and the report's: `= NULL` would match none
            query = select(t.timers).where(t.timers.c.case_id.is_(None)).order_by(t.timers.c.due_at, t.timers.c.id)
            return [_timer(r) for r in self.conn.execute(query)]
        return [_timer(r) for r in self.conn.execute(_TIMERS_OF_CASE, {"case_id": case_id})]

    def due_timers(self, now: datetime, limit: int = 100) -> list[TimerRow]:
        self.flush_timers()
        rows = self.conn.execute(
            select(t.timers)
            .where(t.timers.c.status == "pending")
            .where(t.timers.c.due_at <= utc_text(now))
            .order_by(t.timers.c.due_at, t.timers.c.id)
            .limit(limit)
        )
        return [_timer(r) for r in rows]

    def pending_timers(self) -> list[TimerRow]:
        self.flush_timers()
        rows = self.conn.execute(
            select(t.timers).where(t.timers.c.status == "pending").order_by(t.timers.c.due_at, t.timers.c.id)
        )
        return [_timer(r) for r in rows]

    def timer(self, timer_id: int) -> TimerRow | None:
        self.flush_timers()
        row = self.conn.execute(select(t.timers).where(t.timers.c.id == timer_id)).first()
        return _timer(row) if row is not None else None

    def mark_timer_fired(self, timer_id: int, now: datetime, late: bool) -> None:
        self.flush_timers()
        self.conn.execute(
            update(t.timers)
            .where(t.timers.c.id == timer_id)
            .values(status="fired", fired_at=utc_text(now), late=1 if late else 0)
        )

    def fail_timer(self, timer_id: int, now: datetime, reason: str) -> None:
        self.flush_timers()
        self.conn.execute(
            update(t.timers)
            .where(t.timers.c.id == timer_id)
            .values(status="failed", fired_at=utc_text(now), detail=reason)
        )

    def next_timer_due(self) -> datetime | None:
        self.flush_timers()
        row = self.conn.execute(
            select(t.timers.c.due_at).where(t.timers.c.status == "pending").order_by(t.timers.c.due_at).limit(1)
        ).first()
        return from_utc_text(row[0]) if row else None

    def overdue_timer_count(self, now: datetime) -> int:
        self.flush_timers()
        query = (
            select(func.count())
            .select_from(t.timers)
            .where(t.timers.c.status == "pending")
            .where(t.timers.c.due_at < utc_text(now))
        )
        return int(self.conn.execute(query).scalar_one())


def _row(key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str, scope: str) -> dict[str, Any]:
    return {
        "key": key,
        "case_id": case_id,
        "purpose": purpose,
        "due_at": utc_text(due_at),
        "detail": detail,
        "status": "pending",
        "fired_at": None,
        "late": 0,
        "scope": scope,
    }


def _timer(row: Any) -> TimerRow:
    return TimerRow(
        row.id,
        row.key,
        row.case_id,
        row.purpose,
        from_utc_text(row.due_at),
        row.detail,
        row.status,
        bool(row.late),
        row.scope,
    )
