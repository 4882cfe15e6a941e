"""The SQL store's outbox: each email queued with the change that causes it, delivered after commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, case, func, insert, literal, select, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import SqlRows, from_utc_text, utc_text
from bot.adapters.sql_statements import Prepared
from bot.domain.model import OutgoingEmail
from bot.domain.purposes import URGENT
from bot.domain.records import QueuedEmail
from bot.errors import PermanentError
from bot.sealing import PREFIX

# Statements built once; those of every request compiled once per database and run on the
# driver's cursor (bot.adapters.sql_statements): SQLAlchemy's work per statement costs more
# than SQLite's.
_INSERT_OUTBOX = Prepared(insert(t.outbox).values({c.key: bindparam(c.key) for c in t.outbox.c if c.key != "id"}))
_COUNT_EMAILS = Prepared(
    select(func.count())
    .select_from(t.outbox)
    .where(t.outbox.c.purpose == bindparam("purpose"))
    .where(t.outbox.c.case_id == bindparam("case_id"))
)
# The reply caps' counts: one prepared statement per number of purposes and with or without a
# recipient, each purpose its own parameter (no expanding IN list to render per call); built at first use.
_RECENT: dict[tuple[int, bool], Prepared] = {}
_SENT_SINCE = Prepared(select(func.count()).select_from(t.outbox).where(t.outbox.c.sent_at > bindparam("since")))
_BY_MESSAGE_ID = Prepared(select(t.outbox.c.purpose).where(t.outbox.c.message_id == bindparam("message_id")))
_MARK_SENT = Prepared(
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("email_id"))
    .values(status="sent", sent_at=bindparam("sent_at"), attempts=t.outbox.c.attempts + 1, last_error=None)
)
_MARK_SENDING = Prepared(update(t.outbox).where(t.outbox.c.id == bindparam("email_id")).values(status="sending"))
_MARK_RETRY = Prepared(
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("email_id"))
    .values(
        status="pending",
        attempts=bindparam("attempts"),
        next_attempt_at=bindparam("retry_at"),
        last_error=bindparam("error"),
    )
)
_MARK_FAILED = Prepared(
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("email_id"))
    .values(status="failed", attempts=bindparam("attempts"), last_error=bindparam("error"))
)


_PURPOSE = t.outbox.c.purpose.type
# Waiting to be delivered: "sending" is an email handed to the server by a process that died
# before the server's answer was recorded; it goes again, with the same Message-ID.
WAITING = ("pending", "sending")
# A backlog drains urgent purposes first (a duty referral before a reminder), then oldest first.
# Their values as fixed parameters, not an expanding list: the same SQL, prepared once.
_URGENT_FIRST = case((t.outbox.c.purpose.in_([literal(p, _PURPOSE) for p in sorted(URGENT)]), 0), else_=1)
_DUE = Prepared(
    select(t.outbox)
    .where(t.outbox.c.status.in_([literal(status, t.outbox.c.status.type) for status in WAITING]))
    .where(t.outbox.c.next_attempt_at <= bindparam("now"))
    .order_by(_URGENT_FIRST, t.outbox.c.id)
    .limit(bindparam("limit"))
)
_RELEASE = (
    update(t.outbox)
    .where(t.outbox.c.status.in_(WAITING))
    .where(t.outbox.c.next_attempt_at > bindparam("now"))
    .values(next_attempt_at=bindparam("now"))
)
_PENDING_COUNT = select(func.count()).select_from(t.outbox).where(t.outbox.c.status.in_(WAITING))
_OLDEST_PENDING = select(func.min(t.outbox.c.created_at)).where(t.outbox.c.status.in_(WAITING))


class OutboxRows(SqlRows):
    """The ``Outbox`` port on SQL."""

    def count_emails(self, case_id: str | None, purpose: str) -> int:
        return int(_COUNT_EMAILS.scalar(self.conn, {"purpose": purpose, "case_id": case_id}))

    def count_recent_emails(self, purposes: tuple[str, ...], since: datetime, recipient: str | None = None) -> int:
        if not purposes:
            return 0  # no email is of none of the purposes
        values: dict[str, object] = {f"purpose_{i}": purpose for i, purpose in enumerate(purposes)}
        values["since"] = utc_text(since)
        if recipient is not None:
            values["recipient"] = recipient
        return int(_recent(len(purposes), recipient is not None).scalar(self.conn, values))

    def sent_since(self, since: datetime) -> int:
        return int(_SENT_SINCE.scalar(self.conn, {"since": utc_text(since)}) or 0)

    def email_queued(self, message_id: str) -> bool:
        return _BY_MESSAGE_ID.first(self.conn, {"message_id": message_id}) is not None

    def email_purpose(self, message_id: str) -> str | None:
        row = _BY_MESSAGE_ID.first(self.conn, {"message_id": message_id})
        return str(row[0]) if row else None

    def queue_email(self, email: OutgoingEmail, raw: bytes, now: datetime) -> None:
        _INSERT_OUTBOX.run(
            self.conn,
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
        rows = _DUE.rows(self.conn, {"now": utc_text(now), "limit": limit})
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
        _MARK_SENDING.run(self.conn, {"email_id": email_id})

    def release_waiting(self, now: datetime) -> int:
        result = self.conn.execute(_RELEASE, {"now": utc_text(now)})
        return int(result.rowcount or 0)

    def _raw(self, stored: bytes) -> bytes:
        if self.sealer is not None:
            return self.sealer.open(stored)
        if stored.startswith(PREFIX):
            raise PermanentError("this email was sealed; set privacy.key_env to the key it was sealed with")
        return stored

    def mark_sent(self, email_id: int, now: datetime) -> None:
        _MARK_SENT.run(self.conn, {"email_id": email_id, "sent_at": utc_text(now)})

    def mark_retry(self, email_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        values = {"email_id": email_id, "attempts": attempts, "retry_at": utc_text(retry_at), "error": error}
        _MARK_RETRY.run(self.conn, values)

    def mark_failed(self, email_id: int, attempts: int, error: str) -> None:
        _MARK_FAILED.run(self.conn, {"email_id": email_id, "attempts": attempts, "error": error})

    def pending_email_count(self) -> int:
        return int(self.conn.execute(_PENDING_COUNT).scalar_one())

    def oldest_pending_email(self) -> datetime | None:
        value = self.conn.execute(_OLDEST_PENDING).scalar_one()
        return from_utc_text(value) if value else None


def _recent(purposes: int, to_one: bool) -> Prepared:
    """How many emails of ``purposes`` purposes were queued since a moment (to one recipient)."""
    statement = _RECENT.get((purposes, to_one))
    if statement is None:
        query = (
            select(func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.purpose.in_([bindparam(f"purpose_{i}", type_=_PURPOSE) for i in range(purposes)]))
            .where(t.outbox.c.created_at >= bindparam("since"))
        )
        if to_one:
            query = query.where(t.outbox.c.recipients == bindparam("recipient"))
        statement = _RECENT[(purposes, to_one)] = Prepared(query)
    return statement
