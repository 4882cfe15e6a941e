"""What the store knows of quarantined messages: why each was quarantined, releasing and deleting them.

The ``messages`` table is what makes a second delivery a no-op; a message an administrator
releases must be handled again, so its row is removed in the same transaction as the
history entry that names who released it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, or_, select, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import from_utc_text
from bot.domain.records import HistoryEntry

QUARANTINE = "quarantine"
DELETED = "deleted"  # the outcome of a quarantined message an administrator deleted


@dataclass(frozen=True)
class QuarantineRecord:
    message_id: str
    reason: str
    case_id: str | None
    received_at: datetime


def records(conn: Connection, message_ids: list[str]) -> dict[str, QuarantineRecord]:
    """The quarantine record of each of ``message_ids`` that has one."""
    if not message_ids:
        return {}
    m = t.messages.c
    rows = conn.execute(
        select(m.message_id, m.reason, m.case_id, m.received_at)
        .where(m.message_id.in_(message_ids))
        .where(m.outcome == QUARANTINE)
    )
    return {
        r.message_id: QuarantineRecord(r.message_id, r.reason or "", r.case_id, from_utc_text(r.received_at))
        for r in rows
    }


def forget(conn: Connection, message_id: str, content_hash: str) -> None:
    """Released: no record left by Message-ID or content hash, so the next round handles it as new."""
    m = t.messages.c
    conn.execute(
        delete(t.messages)
        .where(m.outcome == QUARANTINE)
        .where(or_(m.message_id == message_id, m.content_hash == content_hash))
    )


def mark_deleted(conn: Connection, message_id: str) -> None:
    """Deleted: the record stays (a second delivery is still known) but no longer counts as waiting."""
    m = t.messages.c
    conn.execute(
        update(t.messages).where(m.message_id == message_id).where(m.outcome == QUARANTINE).values(outcome=DELETED)
    )


def summary(conn: Connection) -> tuple[int, datetime | None]:
    """How many messages wait in quarantine by the store's record, and when the oldest was received: one query."""
    m = t.messages.c
    count, oldest = conn.execute(select(func.count(), func.min(m.received_at)).where(m.outcome == QUARANTINE)).one()
    return int(count), (from_utc_text(oldest) if oldest else None)


def admin_entries(conn: Connection, message_ids: list[str]) -> list[HistoryEntry]:
    """The case-less history of these messages (quarantined, then released by whom), oldest first.

    A quarantined message has no case yet when an administrator releases it; the case it
    opens when handled again shows these beside its own history.
    """
    if not message_ids:
        return []
    h = t.history.c
    rows = conn.execute(
        select(t.history)
        .where(h.case_id.is_(None))
        .where(h.message_id.in_(message_ids))
        .where(h.action.in_(("quarantined", "released", "quarantine_deleted")))
        .order_by(h.id)
    )
    return [HistoryEntry(r.case_id, from_utc_text(r.at), r.actor, r.action, r.detail, r.message_id) for r in rows]
