"""The SQL store's audit history, and the counts the metrics publish."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select

from bot.adapters import sql_schema as t
from bot.adapters.sql_pending import INSERT_HISTORY, HeldRows
from bot.adapters.sql_rows import from_utc_text, utc_text
from bot.domain.records import HistoryEntry, Tally

# Read for each decision that needs it and for the compliance record: built once.
_HISTORY_OF_CASE = select(t.history).where(t.history.c.case_id == bindparam("case_id")).order_by(t.history.c.id)
_HISTORY_OF_NO_CASE = select(t.history).where(t.history.c.case_id.is_(None)).order_by(t.history.c.id)


class HistoryRows(HeldRows):
    """The ``History`` port on SQL. The table refuses updates and deletes (migration 3).

    With ``pending`` (the store's transactions have it) entries are held and written together,
    before anything reads the history and before the commit (``sql_pending``).
    """

    def add_history(
        self,
        case_id: str | None,
        at: datetime,
        actor: str,
        action: str,
        detail: str = "",
        message_id: str | None = None,
    ) -> None:
        row = {
            "case_id": case_id,
            "at": utc_text(at),
            "actor": actor,
            "action": action,
            "detail": detail,
            "message_id": message_id,
        }
        if self.pending is not None:
            self.pending.history.append(row)
        else:
            INSERT_HISTORY.run(self.conn, row)

    def history(self, case_id: str) -> list[HistoryEntry]:
        self.flush_history()
        if case_id is None:  # the bot's own entries (purges, alerts): `= NULL` would match none
            rows = self.conn.execute(_HISTORY_OF_NO_CASE)
        else:
            rows = self.conn.execute(_HISTORY_OF_CASE, {"case_id": case_id})
        return [HistoryEntry(r.case_id, from_utc_text(r.at), r.actor, r.action, r.detail, r.message_id) for r in rows]

    def tallies(self) -> list[Tally]:
        self.flush_pending()
        # Only columns of the bot's own words are grouped on: no personal data reaches a metric.
        groups = (
            ("messages", (t.messages.c.kind, t.messages.c.outcome)),
            ("cases", (t.cases.c.kind, t.cases.c.state)),
            ("emails", (t.outbox.c.purpose, t.outbox.c.status)),
            ("timers", (t.timers.c.purpose, t.timers.c.status, t.timers.c.late)),
            ("bookings", (t.bookings.c.status,)),
            # The history is append-only: counts by action only ever go up (a metric's counter).
            ("events", (t.history.c.action,)),
        )
        counts: list[Tally] = []
        for name, columns in groups:
            for row in self.conn.execute(select(*columns, func.count()).group_by(*columns)):
                counts.append((name, tuple(str(v) for v in row[:-1]), int(row[-1])))
        return counts
