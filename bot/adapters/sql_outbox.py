"""The SQL store's outbox: each email queued with the change that causes it, delivered after commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, case, func, insert, select, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import SqlRows, from_utc_text, utc_text
from bot.domain.model import OutgoingEmail
from bot.domain.purposes import URGENT
from bot.domain.records import QueuedEmail
from bot.errors import PermanentError
from bot.sealing import PREFIX

# Statements built once: building and coercing a statement costs more than running it.
_INSERT_OUTBOX = insert(t.outbox)
_COUNT_EMAILS = (
    select(func.count())
    .select_from(t.outbox)
    .where(t.outbox.c.purpose == bindparam("purpose"))
    .where(t.outbox.c.case_id == bindparam("case_id"))
)
_RECENT = (
    select(func.count())
    .select_from(t.outbox)
    .where(t.outbox.c.purpose.in_(bindparam("purposes", expanding=True)))
    .where(t.outbox.c.created_at >= bindparam("since"))
)
_RECENT_TO = _RECENT.where(t.outbox.c.recipients == bindparam("recipient"))
_SENT_SINCE = select(func.count()).select_from(t.outbox).where(t.outbox.c.sent_at > bindparam("since"))
_BY_MESSAGE_ID = select(t.outbox.c.purpose).where(t.outbox.c.message_id == bindparam("message_id"))
_MARK_SENT = (
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("email_id"))
    .values(status="sent", sent_at=bindparam("sent_at"), attempts=t.outbox.c.attempts + 1, last_error=None)
)


# Waiting to be delivered: "sending" is an email handed to the server by a process that died
# before the server's answer was recorded; it goes again, with the same Message-ID.
WAITING = ("pending", "sending")
# A backlog drains urgent purposes first (a duty referral before a reminder), then oldest first.
_URGENT_FIRST = case((t.outbox.c.purpose.in_(sorted(URGENT)), 0), else_=1)


class OutboxRows(SqlRows):
    """The ``Outbox`` port on SQL."""

    def count_emails(self, case_id: str | None, purpose: str) -> int:
        return int(self.conn.execute(_COUNT_EMAILS, {"purpose": purpose, "case_id": case_id}).scalar_one())

    def count_recent_emails(self, purposes: tuple[str, ...], since: datetime, recipient: str | None = None) -> int:
        values = {"purposes": list(purposes), "since": utc_text(since)}
        if recipient is None:
            return int(self.conn.execute(_RECENT, values).scalar_one())
        return int(self.conn.execute(_RECENT_TO, {**values, "recipient": recipient}).scalar_one())

    def sent_since(self, since: datetime) -> int:
        return int(self.conn.execute(_SENT_SINCE, {"since": utc_text(since)}).scalar() or 0)

    def email_queued(self, message_id: str) -> bool:
        return self.conn.execute(_BY_MESSAGE_ID, {"message_id": message_id}).first() is not None

    def email_purpose(self, message_id: str) -> str | None:
        row = self.conn.execute(_BY_MESSAGE_ID, {"message_id": message_id}).first()
        return str(row[0]) if row else None

    def queue_email(self, email: OutgoingEmail, raw: bytes, now: datetime) -> None:
        self.conn.execute(
            _INSERT_OUTBOX,
            {
                "message_id": email.message_id,
                "case_id": email.case_id,
                "purpose": email.purpose,
                "recipients": ",".join(dict.fromkeys(email.to + email.cc)),
                "subject": email.subject,
                "raw": self.sealer.seal(raw) if self.sealer else raw,
                "created_at": utc_text(now),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": utc_text(now),
                "last_error": None,
                "sent_at": None,
            },
        )

    def due_emails(self, now: datetime, limit: int) -> list[QueuedEmail]:
        rows = self.conn.execute(
            select(t.outbox)
            .where(t.outbox.c.status.in_(WAITING))
            .where(t.outbox.c.next_attempt_at <= utc_text(now))
            .order_by(_URGENT_FIRST, t.outbox.c.id)
            .limit(limit)
        )
        return [
            QueuedEmail(
                r.id,
                r.message_id,
                r.case_id,
                r.purpose,
                tuple(r.recipients.split(",")),
                self._raw(r.raw),
                r.attempts,
                resend=r.status == "sending",
            )
            for r in rows
        ]

    def mark_sending(self, email_id: int, now: datetime) -> None:
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == email_id).values(status="sending"))

    def release_waiting(self, now: datetime) -> int:
        result = self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.status.in_(WAITING))
            .where(t.outbox.c.next_attempt_at > utc_text(now))
            .values(next_attempt_at=utc_text(now))
        )
        return int(result.rowcount or 0)

    def _raw(self, stored: bytes) -> bytes:
        if self.sealer is not None:
            return self.sealer.open(stored)
        if stored.startswith(PREFIX):
            raise PermanentError("this email was sealed; set privacy.key_env to the key it was sealed with")
        return stored

    def mark_sent(self, email_id: int, now: datetime) -> None:
        self.conn.execute(_MARK_SENT, {"email_id": email_id, "sent_at": utc_text(now)})

    def mark_retry(self, email_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == email_id)
            .values(status="pending", attempts=attempts, next_attempt_at=utc_text(retry_at), last_error=error)
        )

    def mark_failed(self, email_id: int, attempts: int, error: str) -> None:
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == email_id)
            .values(status="failed", attempts=attempts, last_error=error)
        )

    def pending_email_count(self) -> int:
        query = select(func.count()).select_from(t.outbox).where(t.outbox.c.status.in_(WAITING))
        return int(self.conn.execute(query).scalar_one())

    def oldest_pending_email(self) -> datetime | None:
        query = select(func.min(t.outbox.c.created_at)).where(t.outbox.c.status.in_(WAITING))
        value = self.conn.execute(query).scalar_one()
        return from_utc_text(value) if value else None
