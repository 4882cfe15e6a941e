"""The compliance record on SQL (domain.md §5): the ``compliance`` table, one row per case."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import SqlRows, Upsert, from_utc_text, utc_text
from bot.domain.compliance import ComplianceRecord
from bot.ports.compliance import Quarantined

_INSTANTS = (
    "received_at",
    "updated_at",
    "clock_start",
    "discussion_due",
    "callback_due",
    "booked_start",
    "booked_end",
    "contacted_at",
    "meeting_at",
    "held_at",
    "minutes_due",
    "minutes_recorded_at",
    "outcome_at",
    "s47_due",
    "s47_recorded_at",
    "icpc_due",
    "icpc_held_at",
    "cancelled_at",
)


# One statement where a delete and an insert were: the row replaced whole, on SQLite and PostgreSQL.
_PUT = Upsert(t.compliance, "case_id")


def _row(record: ComplianceRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "case_id": record.case_id,
        "kind": record.kind,
        "state": record.state,
        "n_numbers": ",".join(record.n_numbers),
        "complex": int(record.complex),
        "emergency": int(record.emergency),
        "effective_day": record.effective_day.isoformat() if record.effective_day else None,
        "outcome": record.outcome,
    }
    for name in _INSTANTS:
        moment: datetime | None = getattr(record, name)
        row[name] = utc_text(moment) if moment is not None else None
    return row


def _record(row: Any) -> ComplianceRecord:
    values: dict[str, Any] = {name: from_utc_text(row[name]) if row[name] else None for name in _INSTANTS}
    return ComplianceRecord(
        case_id=row["case_id"],
        kind=row["kind"],
        state=row["state"],
        n_numbers=tuple(n for n in row["n_numbers"].split(",") if n),
        complex=bool(row["complex"]),
        emergency=bool(row["emergency"]),
        effective_day=date.fromisoformat(row["effective_day"]) if row["effective_day"] else None,
        outcome=row["outcome"],
        **values,
    )


class ComplianceRows(SqlRows):
    """The ``ComplianceRecords`` port on SQL."""

    def put_compliance(self, record: ComplianceRecord) -> None:
        _PUT(self.conn, _row(record))

    def compliance_records(self, since: datetime | None = None) -> list[ComplianceRecord]:
        query = select(t.compliance).order_by(t.compliance.c.received_at, t.compliance.c.case_id)
        if since is not None:
            query = query.where(t.compliance.c.received_at >= utc_text(since))
        return [_record(row._mapping) for row in self.conn.execute(query)]

    def cases_without_compliance(self) -> list[str]:
        known = select(t.compliance.c.case_id)
        query = select(t.cases.c.case_id).where(t.cases.c.case_id.not_in(known)).order_by(t.cases.c.id)
        return [row.case_id for row in self.conn.execute(query)]

    def quarantined(self, limit: int) -> list[Quarantined]:
        m = t.messages.c
        rows = self.conn.execute(
            select(m.received_at, m.reason, m.case_id)
            .where(m.outcome == "quarantine")
            .order_by(m.received_at.desc())
            .limit(limit)
        )
        return [Quarantined(from_utc_text(r.received_at), r.reason or "", r.case_id) for r in rows]
