"""The bot's store on SQLAlchemy 2 Core: cases, bookings, seen messages, the outbox, the history."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, func, insert, select, update

from bot.adapters import sql_schema as t
from bot.domain.model import Booking, Case, CaseState, Kind, OutgoingEmail, RequestDetails, Requester
from bot.errors import PermanentError
from bot.sealing import PREFIX, Sealer

log = logging.getLogger(__name__)


def utc_text(moment: datetime) -> str:
    """An aware instant as sortable UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class SeenMessage:
    message_id: str
    kind: str
    outcome: str
    reason: str | None
    case_id: str | None


@dataclass(frozen=True)
class QueuedEmail:
    id: int
    message_id: str
    case_id: str | None
    purpose: str
    recipients: tuple[str, ...]
    raw: bytes
    attempts: int


@dataclass(frozen=True)
class TimerRow:
    id: int
    key: str
    case_id: str | None
    purpose: str
    due_at: datetime
    detail: str
    status: str
    late: bool


@dataclass(frozen=True)
class HistoryEntry:
    case_id: str | None
    at: datetime
    actor: str
    action: str
    detail: str
    message_id: str | None


def _details_json(details: RequestDetails) -> str:
    return json.dumps(asdict(details), ensure_ascii=False, sort_keys=True)


# A case in one of these may still be acted on; it is never purged, however old.
OPEN_STATES = (CaseState.AWAITING_INFORMATION, CaseState.BOOKED, CaseState.NEEDS_PERSON, CaseState.AWAITING_CONTACT)


def _plain(text: str) -> str:
    if text.startswith(PREFIX.decode()):
        raise PermanentError("case details are sealed; set privacy.key_env to the key they were sealed with")
    return text


def _details_from_json(text: str) -> RequestDetails:
    data = json.loads(text)
    data["requester"] = Requester(**data["requester"])
    data["n_numbers"] = tuple(data["n_numbers"])
    data["invitees"] = tuple(data["invitees"])
    return RequestDetails(**data)


# Statements built once: building and coercing a statement costs more than running it.
_INSERT_MESSAGE = insert(t.messages)
_INSERT_CASE = insert(t.cases)
_INSERT_BOOKING = insert(t.bookings)
_INSERT_OUTBOX = insert(t.outbox)
_INSERT_HISTORY = insert(t.history)
_TIMER_BY_KEY = select(t.timers.c.id).where(t.timers.c.key == bindparam("key"))
_INSERT_TIMER_IF_NEW = insert(t.timers).prefix_with("OR IGNORE", dialect="sqlite")
_MESSAGE_BY_ID = select(t.messages).where(t.messages.c.message_id == bindparam("key"))
_MESSAGE_BY_HASH = select(t.messages).where(t.messages.c.content_hash == bindparam("key")).limit(1)
_CASE_BY_ID = select(t.cases).where(t.cases.c.case_id == bindparam("case_id"))
_COUNT_EMAILS = (
    select(func.count())
    .select_from(t.outbox)
    .where(t.outbox.c.purpose == bindparam("purpose"))
    .where(t.outbox.c.case_id == bindparam("case_id"))
)


class StoreTransaction:
    """One unit of work: everything done through it commits or rolls back together."""

    def __init__(self, conn: Connection, sealer: Sealer | None = None) -> None:
        self.conn = conn
        # Seals the personal data written (case details, outgoing mail) when privacy.key_env is set.
        self.sealer = sealer

    def _seal_details(self, details: RequestDetails) -> str:
        text = _details_json(details)
        return self.sealer.seal_text(text) if self.sealer else text

    def _open_details(self, text: str) -> RequestDetails:
        return _details_from_json(self.sealer.open_text(text) if self.sealer else _plain(text))

    # -- messages ------------------------------------------------------------------------

    def seen_message(self, message_id: str, content_hash: str) -> SeenMessage | None:
        """The earlier handling of this message, by Message-ID or, failing that, by content."""
        row = (
            self.conn.execute(select(t.messages).where(t.messages.c.message_id == message_id)).first()
            or self.conn.execute(select(t.messages).where(t.messages.c.content_hash == content_hash).limit(1)).first()
        )
        if row is None:
            return None
        return SeenMessage(row.message_id, row.kind, row.outcome, row.reason, row.case_id)

    def record_message(
        self,
        message_id: str,
        content_hash: str,
        received_at: datetime,
        handled_at: datetime,
        kind: str,
        outcome: str,
        reason: str | None,
        case_id: str | None,
    ) -> None:
        self.conn.execute(
            _INSERT_MESSAGE,
            {
                "message_id": message_id,
                "content_hash": content_hash,
                "received_at": utc_text(received_at),
                "handled_at": utc_text(handled_at),
                "kind": kind,
                "outcome": outcome,
                "reason": reason,
                "case_id": case_id,
                "raw": None,
            },
        )

    def case_for_thread(self, references: list[str]) -> Case | None:
        """The case that one of these Message-IDs (ours or theirs) belongs to, newest reference first."""
        for ref in reversed(references):
            row = (
                self.conn.execute(select(t.messages.c.case_id).where(t.messages.c.message_id == ref)).first()
                or self.conn.execute(select(t.outbox.c.case_id).where(t.outbox.c.message_id == ref)).first()
            )
            if row is not None and row[0]:
                return self.case(row[0])
        return None

    def open_case_with_n_number(self, n_numbers: list[str]) -> Case | None:
        """The newest open case naming any of these N numbers."""
        closed = (CaseState.CANCELLED.value, CaseState.CLOSED.value)
        for n in n_numbers:
            row = self.conn.execute(
                select(t.cases.c.case_id)
                .where(t.cases.c.state.not_in(closed))
                .where((t.cases.c.n_numbers == n) | t.cases.c.n_numbers.like(f"%{n}%"))
                .order_by(t.cases.c.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                return self.case(row[0])
        return None

    # -- cases ---------------------------------------------------------------------------

    def add_case(
        self,
        kind: Kind,
        state: CaseState,
        details: RequestDetails,
        root_message_id: str,
        received_at: datetime,
        now: datetime,
        effective_day: date | None = None,
        clock_start: datetime | None = None,
    ) -> Case:
        result = self.conn.execute(
            _INSERT_CASE,
            {
                "case_id": f"pending-{root_message_id}",
                "kind": kind.value,
                "state": state.value,
                "n_numbers": ",".join(details.n_numbers),
                "details": self._seal_details(details),
                "root_message_id": root_message_id,
                "received_at": utc_text(received_at),
                "effective_day": effective_day.isoformat() if effective_day else None,
                "clock_start": utc_text(clock_start) if clock_start else None,
                "created_at": utc_text(now),
                "updated_at": utc_text(now),
            },
        )
        row_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        # Case ids come from the row id so they are unique without a second counter.
        case_id = f"SD{row_id:06d}"
        self.conn.execute(update(t.cases).where(t.cases.c.id == row_id).values(case_id=case_id))
        return Case(
            case_id=case_id,
            kind=kind,
            state=state,
            details=details,
            root_message_id=root_message_id,
            received_at=received_at,
            effective_day=effective_day.isoformat() if effective_day else None,
            clock_start=clock_start,
        )

    def case(self, case_id: str) -> Case | None:
        row = self.conn.execute(_CASE_BY_ID, {"case_id": case_id}).first()
        if row is None:
            return None
        return Case(
            case_id=row.case_id,
            kind=Kind(row.kind),
            state=CaseState(row.state),
            details=self._open_details(row.details),
            root_message_id=row.root_message_id,
            received_at=from_utc_text(row.received_at),
            effective_day=row.effective_day,
            clock_start=from_utc_text(row.clock_start) if row.clock_start else None,
        )

    def update_case(
        self,
        case_id: str,
        now: datetime,
        state: CaseState | None = None,
        details: RequestDetails | None = None,
        effective_day: date | None = None,
    ) -> None:
        values: dict[str, object] = {"updated_at": utc_text(now)}
        if state is not None:
            values["state"] = state.value
        if details is not None:
            values["details"] = self._seal_details(details)
            values["n_numbers"] = ",".join(details.n_numbers)
        if effective_day is not None:
            values["effective_day"] = effective_day.isoformat()
        self.conn.execute(update(t.cases).where(t.cases.c.case_id == case_id).values(**values))

    def cases_for(self, reference: str) -> list[Case]:
        """The cases with this case id, or naming this N number, oldest first."""
        rows = self.conn.execute(
            select(t.cases.c.case_id)
            .where((t.cases.c.case_id == reference) | t.cases.c.n_numbers.like(f"%{reference}%"))
            .order_by(t.cases.c.id)
        ).scalars()
        found = [self.case(case_id) for case_id in rows]
        return [
            case
            for case in found
            if case is not None and (case.case_id == reference or reference in case.details.n_numbers)
        ]

    def open_cases(self) -> list[Case]:
        closed = (CaseState.CANCELLED.value, CaseState.CLOSED.value)
        ids = self.conn.execute(
            select(t.cases.c.case_id).where(t.cases.c.state.not_in(closed)).order_by(t.cases.c.id)
        ).scalars()
        return [case for case in (self.case(i) for i in ids) if case is not None]

    # -- bookings ------------------------------------------------------------------------

    def add_booking(self, booking: Booking) -> None:
        self.conn.execute(
            _INSERT_BOOKING,
            {
                "case_id": booking.case_id,
                "uid": booking.uid,
                "start": utc_text(booking.start),
                "end": utc_text(booking.end),
                "sequence": booking.sequence,
                "status": booking.status,
            },
        )

    def set_booking(self, case_id: str, start: datetime, end: datetime, sequence: int, status: str) -> None:
        """Move or cancel the case's current booking."""
        self.conn.execute(
            update(t.bookings)
            .where(t.bookings.c.case_id == case_id)
            .where(t.bookings.c.status == "booked")
            .values(start=utc_text(start), end=utc_text(end), sequence=sequence, status=status)
        )

    def email_purpose(self, message_id: str) -> str | None:
        row = self.conn.execute(select(t.outbox.c.purpose).where(t.outbox.c.message_id == message_id)).first()
        return str(row[0]) if row else None

    def booking_for(self, case_id: str) -> Booking | None:
        row = self.conn.execute(
            select(t.bookings)
            .where(t.bookings.c.case_id == case_id)
            .where(t.bookings.c.status == "booked")
            .order_by(t.bookings.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return Booking(row.case_id, row.uid, from_utc_text(row.start), from_utc_text(row.end), row.sequence, row.status)

    def bookings_between(self, start: datetime, end: datetime) -> list[Booking]:
        rows = self.conn.execute(
            select(t.bookings)
            .where(t.bookings.c.status == "booked")
            .where(t.bookings.c.start < utc_text(end))
            .where(t.bookings.c.end > utc_text(start))
            .order_by(t.bookings.c.start)
        )
        return [
            Booking(r.case_id, r.uid, from_utc_text(r.start), from_utc_text(r.end), r.sequence, r.status) for r in rows
        ]

    # -- outbox --------------------------------------------------------------------------

    def count_emails(self, case_id: str | None, purpose: str) -> int:
        return int(self.conn.execute(_COUNT_EMAILS, {"purpose": purpose, "case_id": case_id}).scalar_one())

    def count_recent_emails(self, purposes: tuple[str, ...], since: datetime, recipient: str | None = None) -> int:
        """Emails of these purposes queued since ``since``, to ``recipient`` if given."""
        query = (
            select(func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.purpose.in_(purposes))
            .where(t.outbox.c.created_at >= utc_text(since))
        )
        if recipient is not None:
            query = query.where(t.outbox.c.recipients == recipient)
        return int(self.conn.execute(query).scalar_one())

    def sent_since(self, since: datetime) -> int:
        """How many emails were handed to the sender after ``since`` (the send-rate window)."""
        count = self.conn.execute(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.sent_at > utc_text(since))
        ).scalar()
        return int(count or 0)

    def email_queued(self, message_id: str) -> bool:
        return self.conn.execute(select(t.outbox.c.id).where(t.outbox.c.message_id == message_id)).first() is not None

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
            .where(t.outbox.c.status == "pending")
            .where(t.outbox.c.next_attempt_at <= utc_text(now))
            .order_by(t.outbox.c.id)
            .limit(limit)
        )
        return [
            QueuedEmail(
                r.id, r.message_id, r.case_id, r.purpose, tuple(r.recipients.split(",")), self._raw(r.raw), r.attempts
            )
            for r in rows
        ]

    def _raw(self, stored: bytes) -> bytes:
        if self.sealer is not None:
            return self.sealer.open(stored)
        if stored.startswith(PREFIX):
            raise PermanentError("this email was sealed; set privacy.key_env to the key it was sealed with")
        return stored

    # -- purging (issue 6) ------------------------------------------------------------------

    def purgeable_cases(self, before: datetime) -> list[str]:
        """Cases finished before ``before``: not open, no pending timer, details not yet purged."""
        still_open = [state.value for state in OPEN_STATES]
        timed = select(t.timers.c.case_id).where(t.timers.c.status == "pending").where(t.timers.c.case_id.is_not(None))
        ids = self.conn.execute(
            select(t.cases.c.case_id)
            .where(t.cases.c.state.not_in(still_open))
            .where(t.cases.c.updated_at < utc_text(before))
            .where(t.cases.c.case_id.not_in(timed))
            .order_by(t.cases.c.id)
        ).scalars()
        return [case_id for case_id in ids if not self._purged(case_id)]

    def _purged(self, case_id: str) -> bool:
        case = self.case(case_id)
        return case is not None and case.details == RequestDetails(n_numbers=case.details.n_numbers)

    def purge_case(self, case_id: str, now: datetime) -> None:
        """Keep the N numbers; drop names, dates of birth, address, reason, contacts and emails sent."""
        case = self.case(case_id)
        if case is None:
            return
        self.update_case(case_id, now, details=RequestDetails(n_numbers=case.details.n_numbers))
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.case_id == case_id)
            .where(t.outbox.c.status != "pending")
            .values(raw=b"", subject="(purged)")
        )
        # The local calendar's copy of the event body names the family and the manager.
        own_events = select(t.bookings.c.uid).where(t.bookings.c.case_id == case_id)
        self.conn.execute(
            update(t.calendar_events).where(t.calendar_events.c.uid.in_(own_events)).values(body="", attendees="")
        )

    def purge_old_emails(self, before: datetime) -> int:
        """Empty the stored copy of every email sent or refused before ``before``; returns how many."""
        result = self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.status != "pending")
            .where(t.outbox.c.created_at < utc_text(before))
            .where(t.outbox.c.raw != b"")
            .values(raw=b"", subject="(purged)")
        )
        return int(result.rowcount or 0)

    def mark_sent(self, email_id: int, now: datetime) -> None:
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == email_id)
            .values(status="sent", sent_at=utc_text(now), attempts=t.outbox.c.attempts + 1, last_error=None)
        )

    def mark_retry(self, email_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == email_id)
            .values(attempts=attempts, next_attempt_at=utc_text(retry_at), last_error=error)
        )

    def mark_failed(self, email_id: int, attempts: int, error: str) -> None:
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == email_id)
            .values(status="failed", attempts=attempts, last_error=error)
        )

    def pending_email_count(self) -> int:
        query = select(func.count()).select_from(t.outbox).where(t.outbox.c.status == "pending")
        return int(self.conn.execute(query).scalar_one())

    def tallies(self) -> list[tuple[str, tuple[str, ...], int]]:
        """Counts for the metrics, by table and labels: no column that holds personal data is read."""
        groups = (
            ("messages", (t.messages.c.kind, t.messages.c.outcome)),
            ("cases", (t.cases.c.kind, t.cases.c.state)),
            ("emails", (t.outbox.c.purpose, t.outbox.c.status)),
            ("timers", (t.timers.c.purpose, t.timers.c.status, t.timers.c.late)),
            ("bookings", (t.bookings.c.status,)),
        )
        counts: list[tuple[str, tuple[str, ...], int]] = []
        for name, columns in groups:
            for row in self.conn.execute(select(*columns, func.count()).group_by(*columns)):
                counts.append((name, tuple(str(v) for v in row[:-1]), int(row[-1])))
        return counts

    def overdue_timer_count(self, now: datetime) -> int:
        query = (
            select(func.count())
            .select_from(t.timers)
            .where(t.timers.c.status == "pending")
            .where(t.timers.c.due_at < utc_text(now))
        )
        return int(self.conn.execute(query).scalar_one())

    def oldest_pending_email(self) -> datetime | None:
        query = select(func.min(t.outbox.c.created_at)).where(t.outbox.c.status == "pending")
        value = self.conn.execute(query).scalar_one()
        return from_utc_text(value) if value else None

    # -- timers --------------------------------------------------------------------------

    def add_timer(self, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str = "") -> bool:
        """Schedule a deadline once; False when a timer with this key already exists."""
        values = {
            "key": key,
            "case_id": case_id,
            "purpose": purpose,
            "due_at": utc_text(due_at),
            "detail": detail,
            "status": "pending",
            "fired_at": None,
            "late": 0,
        }
        if self.conn.dialect.name == "sqlite":
            # One statement instead of a look-up and an insert: this runs five times per booking.
            return bool(self.conn.execute(_INSERT_TIMER_IF_NEW, values).rowcount)
        if self.conn.execute(_TIMER_BY_KEY, {"key": key}).first() is not None:
            return False
        self.conn.execute(insert(t.timers), values)
        return True

    def cancel_timers(self, case_id: str, purposes: tuple[str, ...] | None = None) -> int:
        """Stop a case's pending timers (all, or those of the given purposes); returns how many."""
        query = update(t.timers).where(t.timers.c.case_id == case_id).where(t.timers.c.status == "pending")
        if purposes is not None:
            query = query.where(t.timers.c.purpose.in_(purposes))
        return int(self.conn.execute(query.values(status="cancelled")).rowcount)

    def due_timers(self, now: datetime, limit: int = 100) -> list[TimerRow]:
        rows = self.conn.execute(
            select(t.timers)
            .where(t.timers.c.status == "pending")
            .where(t.timers.c.due_at <= utc_text(now))
            .order_by(t.timers.c.due_at, t.timers.c.id)
            .limit(limit)
        )
        return [_timer(r) for r in rows]

    def pending_timers(self) -> list[TimerRow]:
        rows = self.conn.execute(
            select(t.timers).where(t.timers.c.status == "pending").order_by(t.timers.c.due_at, t.timers.c.id)
        )
        return [_timer(r) for r in rows]

    def timer(self, timer_id: int) -> TimerRow | None:
        row = self.conn.execute(select(t.timers).where(t.timers.c.id == timer_id)).first()
        return _timer(row) if row is not None else None

    def mark_timer_fired(self, timer_id: int, now: datetime, late: bool) -> None:
        self.conn.execute(
            update(t.timers)
            .where(t.timers.c.id == timer_id)
            .values(status="fired", fired_at=utc_text(now), late=1 if late else 0)
        )

    def fail_timer(self, timer_id: int, now: datetime, reason: str) -> None:
        """A timer whose firing raised: kept for a person to see, never retried in a loop."""
        self.conn.execute(
            update(t.timers)
            .where(t.timers.c.id == timer_id)
            .values(status="failed", fired_at=utc_text(now), detail=reason)
        )

    def next_timer_due(self) -> datetime | None:
        row = self.conn.execute(
            select(t.timers.c.due_at).where(t.timers.c.status == "pending").order_by(t.timers.c.due_at).limit(1)
        ).first()
        return from_utc_text(row[0]) if row else None

    # -- history -------------------------------------------------------------------------

    def add_history(
        self,
        case_id: str | None,
        at: datetime,
        actor: str,
        action: str,
        detail: str = "",
        message_id: str | None = None,
    ) -> None:
        self.conn.execute(
            _INSERT_HISTORY,
            {
                "case_id": case_id,
                "at": utc_text(at),
                "actor": actor,
                "action": action,
                "detail": detail,
                "message_id": message_id,
            },
        )

    def history(self, case_id: str) -> list[HistoryEntry]:
        rows = self.conn.execute(select(t.history).where(t.history.c.case_id == case_id).order_by(t.history.c.id))
        return [HistoryEntry(r.case_id, from_utc_text(r.at), r.actor, r.action, r.detail, r.message_id) for r in rows]


def _timer(row: Any) -> TimerRow:
    return TimerRow(
        row.id, row.key, row.case_id, row.purpose, from_utc_text(row.due_at), row.detail, row.status, bool(row.late)
    )


class SqlStore:
    """The database behind every other part of the bot; SQLite for the embedded default."""

    def __init__(self, url: str, sealer: Sealer | None = None) -> None:
        self.url = url
        self.sealer = sealer
        self.engine: Engine = create_engine(url)
        self._current: Connection | None = None
        self._batch: Connection | None = None
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented
            # remedy: let SQLAlchemy emit BEGIN itself.
            event.listen(self.engine, "begin", _sqlite_begin)

    def migrate(self, now: datetime | None = None) -> int:
        """Bring the schema up to date; returns the version reached."""
        stamp = utc_text(now or datetime.now(UTC))
        with self.engine.begin() as conn:
            if not conn.dialect.has_table(conn, "schema_version"):
                t.schema_version.create(conn)
            version = t.current_version(conn)
        for number, step in t.MIGRATIONS:
            if number <= version:
                continue
            with self.engine.begin() as conn:
                step(conn)
                conn.execute(insert(t.schema_version).values(version=number, applied_at=stamp))
            log.info("schema migrated to version %d", number)
            version = number
        return version

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """A unit of work; adapters sharing this database (the local calendar) join it.

        Inside a ``batch`` it is a savepoint: it rolls back alone, and becomes durable
        when the batch commits.
        """
        if self._batch is not None:
            if self._current is not None:
                raise RuntimeError("a store transaction is already open; units of work do not nest")
            with self._batch.begin_nested():
                self._current = self._batch
                try:
                    yield StoreTransaction(self._batch, self.sealer)
                finally:
                    self._current = None
            return
        if self._current is not None:
            raise RuntimeError("a store transaction is already open; units of work do not nest")
        with self.engine.begin() as conn:
            self._current = conn
            try:
                yield StoreTransaction(conn, self.sealer)
            finally:
                self._current = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: the units of work inside commit together, with one flush to disk.

        Callers act on the outcome (moving mail out of the inbox) only after the batch
        has committed; a crash before then leaves every message of the batch in the inbox,
        to be recognised by its Message-ID.
        """
        if self._batch is not None or self._current is not None:
            raise RuntimeError("batches do not nest")
        with self.engine.begin() as conn:
            self._batch = conn
            try:
                yield
            finally:
                self._batch = None

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """The open unit of work's connection, or a short transaction of its own."""
        if self._current is not None:
            yield self._current
            return
        with self.engine.begin() as conn:
            yield conn

    def get_state(self, key: str) -> str | None:
        """What an adapter stored under ``key`` (``AdapterState`` port)."""
        with self.connection() as conn:
            value = conn.execute(select(t.adapter_state.c.value).where(t.adapter_state.c.key == key)).scalar()
        return None if value is None else str(value)

    def put_state(self, key: str, value: str, now: datetime) -> None:
        """Store ``value`` under ``key``, durably, replacing what was there."""
        row = {"value": value, "updated_at": utc_text(now)}
        with self.connection() as conn:
            done = conn.execute(update(t.adapter_state).where(t.adapter_state.c.key == key).values(**row))
            if not done.rowcount:
                conn.execute(insert(t.adapter_state).values(key=key, **row))

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets `status` read while the daemon writes; FULL makes each commit durable
    # before the message is moved out of the inbox.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def retry_delay(attempts: int, first_seconds: float, max_seconds: float) -> timedelta:
    """Exponential back-off for outbox delivery: first, 2×first, 4×first … capped."""
    return timedelta(seconds=min(max_seconds, first_seconds * (2 ** max(0, attempts - 1))))
