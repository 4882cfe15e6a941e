"""Rows held back and written together, per unit of work or per batch (issue 18).

A request writes several history entries and several timers; a delivery round one history
entry per email. Each was an INSERT of its own; held here they go in one ``executemany`` per
table when something is about to read that table in the same transaction (the history's and
the timers' readers, ``tallies``, the retention purge's look-up) and before the transaction or
the batch commits. A rolled-back unit or batch drops them with everything else.

Timers are held only through ``TimerRows.hold_timer``, for a key its caller knows to be new:
``add_timer`` answers whether it inserted, which needs the row written at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Insert, bindparam, insert

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import SqlRows
from bot.adapters.sql_statements import Prepared

_HISTORY_COLUMNS = ("case_id", "at", "actor", "action", "detail", "message_id")
_TIMER_COLUMNS = ("key", "case_id", "purpose", "due_at", "detail", "status", "fired_at", "late", "scope")


def _binds(columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: bindparam(name) for name in columns}


# Run on the driver's cursor (``sql_statements``): each row costs the driver's work, not SQLAlchemy's.
INSERT_HISTORY = Prepared(insert(t.history).values(_binds(_HISTORY_COLUMNS)))
_INSERT_TIMERS: dict[str, Prepared] = {}  # per dialect: a held timer's key taken meanwhile is left as it is


def _insert_timers(dialect: str) -> Prepared:
    statement = _INSERT_TIMERS.get(dialect)
    if statement is None:
        values = _binds(_TIMER_COLUMNS)
        built: Insert
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql  # imported here: SQLite never loads it

            built = postgresql.insert(t.timers).values(values).on_conflict_do_nothing(index_elements=["key"])
        else:
            from sqlalchemy.dialects import sqlite

            built = sqlite.insert(t.timers).values(values).on_conflict_do_nothing()
        statement = _INSERT_TIMERS[dialect] = Prepared(built)
    return statement


class PendingRows:
    """The rows of one transaction (or batch) not yet written, each table's in the order they were added."""

    __slots__ = ("history", "timers")

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.timers: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.history) + len(self.timers)

    def flush(self, conn: Connection) -> None:
        """Write what is held, in order (the history is read back ordered by id, timers by due time and id)."""
        self.flush_history(conn)
        self.flush_timers(conn)

    def flush_history(self, conn: Connection) -> None:
        if self.history:
            rows, self.history = self.history, []
            INSERT_HISTORY.run_many(conn, rows)

    def flush_timers(self, conn: Connection) -> None:
        if self.timers:
            rows, self.timers = self.timers, []
            _insert_timers(conn.dialect.name).run_many(conn, rows)

    def drop(self) -> None:
        self.history, self.timers = [], []


class HeldRows(SqlRows):
    """Rows of a table whose inserts may be held (``pending``: the store's transactions have it).

    Each reader writes first the held rows of the table it reads, and only those: a timer read
    leaves the history's rows held for the batch.
    """

    pending: PendingRows | None = None

    def flush_pending(self) -> None:
        """Write every held row now: whatever reads them next in this transaction sees them."""
        if self.pending is not None:
            self.pending.flush(self.conn)

    def flush_history(self) -> None:
        if self.pending is not None:
            self.pending.flush_history(self.conn)

    def flush_timers(self) -> None:
        if self.pending is not None:
            self.pending.flush_timers(self.conn)
