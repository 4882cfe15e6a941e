"""Rows held back and written together: the history's entries, per unit of work or per batch (issue 18).

A request writes several history entries; a delivery round one per email. Each was an INSERT
of its own; held here they go in one ``executemany`` when something is about to read the
history (``HistoryRows.history``, ``tallies``, the retention purge's look-up) and before the
transaction or the batch commits. A rolled-back unit or batch drops them with everything else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from bot.adapters import sql_schema as t

INSERT_HISTORY = insert(t.history)


class PendingRows:
    """The history rows of one transaction (or batch) not yet written, in the order they were added."""

    __slots__ = ("history",)

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def flush(self, conn: Connection) -> None:
        """Write what is held, in order (the history is read back ordered by id)."""
        if self.history:
            rows, self.history = self.history, []
            conn.execute(INSERT_HISTORY, rows)

    def drop(self) -> None:
        self.history = []
