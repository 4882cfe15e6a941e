"""The SQL store's cases, their bookings, and the messages it has handled."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import date, datetime, time

from sqlalchemy import bindparam, delete, insert, select, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import SqlRows, from_utc_text, utc_text
from bot.domain.model import Booking, Case, CaseState, EmergencyAction, Kind, RequestDetails, Requester
from bot.domain.records import SeenMessage
from bot.errors import PermanentError
from bot.sealing import PREFIX

# Statements built once: building and coercing a statement costs more than running it.
_INSERT_MESSAGE = insert(t.messages)
_INSERT_CASE = insert(t.cases)
_INSERT_BOOKING = insert(t.bookings)
_MESSAGE_BY_ID = select(t.messages).where(t.messages.c.message_id == bindparam("key"))
_MESSAGE_BY_HASH = select(t.messages).where(t.messages.c.content_hash == bindparam("key")).limit(1)
_CASE_BY_ID = select(t.cases).where(t.cases.c.case_id == bindparam("case_id"))
_INSERT_NUMBER = insert(t.case_numbers)
_BOOKING_OF_CASE = (
    select(t.bookings)
    .where(t.bookings.c.case_id == bindparam("case_id"))
    .where(t.bookings.c.status == "booked")
    .order_by(t.bookings.c.id.desc())
    .limit(1)
)
# The cases of one N number, through its index: never a scan of every case's list.
_CASES_OF_NUMBER = (
    select(t.cases.c.case_id, t.cases.c.state)
    .join(t.case_numbers, t.case_numbers.c.case_id == t.cases.c.case_id)
    .where(t.case_numbers.c.n_number == bindparam("n"))
    .order_by(t.cases.c.id)
)

_CLOSED = (CaseState.CANCELLED.value, CaseState.CLOSED.value)


def _details_json(details: RequestDetails) -> str:
    return json.dumps(asdict(details), ensure_ascii=False, sort_keys=True, default=_iso)


def _iso(value: object) -> str:
    # The emergency action's day and time (§2); nothing else in the details is not plain JSON.
    if isinstance(value, date | time):
        return value.isoformat()
    raise TypeError(f"case details: cannot store {type(value).__name__}")


def _emergency_action(data: dict[str, str | None] | None) -> EmergencyAction | None:
    if data is None:
        return None
    day, clock = data.get("day"), data.get("time_of_day")
    return EmergencyAction(
        str(data["taken"]), date.fromisoformat(day) if day else None, time.fromisoformat(clock) if clock else None
    )


def _details_from_json(text: str) -> RequestDetails:
    data = json.loads(text)
    data["requester"] = Requester(**data["requester"])
    data["n_numbers"] = tuple(data["n_numbers"])
    data["invitees"] = tuple(data["invitees"])
    data["receiving_authority"] = tuple(data.get("receiving_authority", ()))
    data["emergency_action"] = _emergency_action(data.get("emergency_action"))
    return RequestDetails(**data)


def _plain(text: str) -> str:
    if text.startswith(PREFIX.decode()):
        raise PermanentError("case details are sealed; set privacy.key_env to the key they were sealed with")
    return text


class CaseRows(SqlRows):
    """The ``MessageLog``, ``CaseRecords`` and ``BookingRecords`` ports on SQL."""

    def _seal_details(self, details: RequestDetails) -> str:
        text = _details_json(details)
        return self.sealer.seal_text(text) if self.sealer else text

    def _open_details(self, text: str) -> RequestDetails:
        return _details_from_json(self.sealer.open_text(text) if self.sealer else _plain(text))

    # -- messages ------------------------------------------------------------------------

    def seen_message(self, message_id: str, content_hash: str) -> SeenMessage | None:
        row = (
            self.conn.execute(_MESSAGE_BY_ID, {"key": message_id}).first()
            or self.conn.execute(_MESSAGE_BY_HASH, {"key": content_hash}).first()
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
        for ref in reversed(references):
            row = (
                self.conn.execute(select(t.messages.c.case_id).where(t.messages.c.message_id == ref)).first()
                or self.conn.execute(select(t.outbox.c.case_id).where(t.outbox.c.message_id == ref)).first()
            )
            if row is not None and row[0]:
                return self.case(row[0])
        return None

    def open_case_with_n_number(self, n_numbers: list[str]) -> Case | None:
        for n in n_numbers:
            rows = self.conn.execute(_CASES_OF_NUMBER, {"n": n}).all()
            open_ids = [row.case_id for row in rows if row.state not in _CLOSED]
            if open_ids:
                return self.case(open_ids[-1])
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
                # A placeholder that fits the column (PostgreSQL holds it to its 20 characters)
                # until the row id gives the case its id, two lines down.
                "case_id": f"new-{uuid.uuid4().hex[:16]}",
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
        self._index_numbers(case_id, details.n_numbers)
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

    def _index_numbers(self, case_id: str, n_numbers: tuple[str, ...]) -> None:
        rows = [{"n_number": n, "case_id": case_id} for n in dict.fromkeys(n_numbers) if n]
        if rows:
            self.conn.execute(_INSERT_NUMBER, rows)

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
            self.conn.execute(delete(t.case_numbers).where(t.case_numbers.c.case_id == case_id))
            self._index_numbers(case_id, details.n_numbers)
        if effective_day is not None:
            values["effective_day"] = effective_day.isoformat()
        self.conn.execute(update(t.cases).where(t.cases.c.case_id == case_id).values(**values))

    def cases_for(self, reference: str) -> list[Case]:
        ids = [row.case_id for row in self.conn.execute(_CASES_OF_NUMBER, {"n": reference})]
        if reference not in ids and self.conn.execute(_CASE_BY_ID, {"case_id": reference}).first() is not None:
            ids.insert(0, reference)  # a case id (SD000012) rather than an N number
        found = [self.case(case_id) for case_id in ids]
        return [case for case in found if case is not None]

    def open_cases(self) -> list[Case]:
        ids = self.conn.execute(
            select(t.cases.c.case_id).where(t.cases.c.state.not_in(_CLOSED)).order_by(t.cases.c.id)
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
        self.conn.execute(
            update(t.bookings)
            .where(t.bookings.c.case_id == case_id)
            .where(t.bookings.c.status == "booked")
            .values(start=utc_text(start), end=utc_text(end), sequence=sequence, status=status)
        )

    def booking_for(self, case_id: str) -> Booking | None:
        row = self.conn.execute(_BOOKING_OF_CASE, {"case_id": case_id}).first() if case_id is not None else None
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
