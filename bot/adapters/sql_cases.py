"""The SQL store's cases, their bookings, and the messages it has handled."""

from __future__ import annotations

import json
import uuid
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Label, Table, bindparam, delete, func, insert, literal_column, select, union_all, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import SqlRows, from_utc_text, utc_text
from bot.adapters.sql_statements import Prepared
from bot.domain.model import Booking, Case, CaseState, EmergencyAction, Kind, RequestDetails, Requester
from bot.domain.records import SeenMessage
from bot.errors import PermanentError
from bot.sealing import PREFIX

_CLOSED_STATES = (CaseState.CANCELLED.value, CaseState.CLOSED.value)


def _values(table: Table, *names: str) -> dict[str, object]:
    return {name: bindparam(name) for name in names} if names else {c.key: bindparam(c.key) for c in table.c}


# Statements built once and compiled once per database (bot.adapters.sql_statements): building,
# coercing and running a statement through SQLAlchemy costs more than SQLite running it.
_INSERT_MESSAGE = Prepared(insert(t.messages).values(_values(t.messages)))
_CASE_COLUMNS = tuple(c.key for c in t.cases.c if c.key != "id")
_INSERT_CASE = Prepared(insert(t.cases).values(_values(t.cases, *_CASE_COLUMNS)).returning(t.cases.c.id))
# SQLite: the row and its case id in one statement. SQLite gives a new row the id one above the
# largest (the table has no AUTOINCREMENT), so the insert takes that id itself and names the case
# from it: the same id and case id as the insert and the update below, one statement fewer.
_NEXT_ROW = select((func.coalesce(func.max(t.cases.c.id), 0) + 1).label("id")).subquery("next_row")
_INSERT_NAMED_CASE = Prepared(
    insert(t.cases)
    .from_select(
        ["id", *_CASE_COLUMNS],
        select(
            _NEXT_ROW.c.id,
            func.printf("SD%06d", _NEXT_ROW.c.id),
            *(bindparam(name, type_=t.cases.c[name].type) for name in _CASE_COLUMNS[1:]),
        ),
    )
    .returning(t.cases.c.id, t.cases.c.case_id)
)
_NAME_CASE = Prepared(update(t.cases).where(t.cases.c.id == bindparam("row_id")).values(case_id=bindparam("new_id")))
_INSERT_BOOKING = Prepared(
    insert(t.bookings).values(_values(t.bookings, "case_id", "uid", "start", "end", "sequence", "status"))
)
_SET_BOOKING = Prepared(
    update(t.bookings)
    .where(t.bookings.c.case_id == bindparam("of_case"))
    .where(t.bookings.c.status == "booked")
    .values(_values(t.bookings, "start", "end", "sequence", "status"))
)
# Which branch of a union a row came from, for its ORDER BY: the first branch's rows first.
_FIRST: Label[int] = literal_column("0").label("pick")
_THEN: Label[int] = literal_column("1").label("pick")
_SEEN_COLUMNS = (
    t.messages.c.message_id,
    t.messages.c.kind,
    t.messages.c.outcome,
    t.messages.c.reason,
    t.messages.c.case_id,
)
# A message seen before, by its Message-ID or else by its content: one statement, the first
# branch preferred (each branch through its own index).
_SEEN = Prepared(
    union_all(
        select(_FIRST, *_SEEN_COLUMNS).where(t.messages.c.message_id == bindparam("key")),
        select(_THEN, *_SEEN_COLUMNS).where(t.messages.c.content_hash == bindparam("hash")),
    )
    .order_by("pick")
    .limit(1)
)
# The case of a message in a thread: the message handled, or else the email sent, with that id.
_THREAD_CASE = Prepared(
    union_all(
        select(_FIRST, t.messages.c.case_id).where(t.messages.c.message_id == bindparam("ref")),
        select(_THEN, t.outbox.c.case_id).where(t.outbox.c.message_id == bindparam("ref")),
    )
    .order_by("pick")
    .limit(1)
)
_CASE_BY_ID = Prepared(select(t.cases).where(t.cases.c.case_id == bindparam("case_id")))
_INSERT_NUMBER = Prepared(insert(t.case_numbers).values(_values(t.case_numbers, "n_number", "case_id")))
_DELETE_NUMBERS = Prepared(delete(t.case_numbers).where(t.case_numbers.c.case_id == bindparam("case_id")))
_BOOKING_OF_CASE = Prepared(
    select(t.bookings)
    .where(t.bookings.c.case_id == bindparam("case_id"))
    .where(t.bookings.c.status == "booked")
    .order_by(t.bookings.c.id.desc())
    .limit(1)
)
_NUMBERED = select(t.case_numbers.c.case_id).where(t.case_numbers.c.n_number == bindparam("n"))
# The cases of one N number, whole, through its index: never a scan of every case's list.
_CASES_OF_NUMBER = Prepared(select(t.cases).where(t.cases.c.case_id.in_(_NUMBERED)).order_by(t.cases.c.id))
# What a reference names: the case with that id first (unless the number also names it), then
# the cases of that N number, oldest first; one statement.
_CASES_FOR = Prepared(
    union_all(
        select(_FIRST, *t.cases.c)
        .where(t.cases.c.case_id == bindparam("n"))
        .where(t.cases.c.case_id.not_in(_NUMBERED)),
        select(_THEN, *t.cases.c).where(t.cases.c.case_id.in_(_NUMBERED)),
    ).order_by("pick", "id")
)
_BOOKINGS_BETWEEN = Prepared(
    select(t.bookings)
    .where(t.bookings.c.status == "booked")
    .where(t.bookings.c.start < bindparam("end"))
    .where(t.bookings.c.end > bindparam("start"))
    .order_by(t.bookings.c.start)
)
_OPEN_CASES = select(t.cases).where(t.cases.c.state.not_in(_CLOSED_STATES)).order_by(t.cases.c.id)
# update_case's statements, one per set of columns it changes: built at first use.
_UPDATES: dict[tuple[str, ...], Prepared] = {}


def _details_json(details: RequestDetails) -> str:
    # The dataclasses turned into objects as the encoder meets them: the same text as encoding
    # dataclasses.asdict(details), without its deep copy of every value first (issue 18).
    return json.dumps(details, ensure_ascii=False, sort_keys=True, default=_json_value)


def _json_value(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in fields(value)}
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
        row = _SEEN.first(self.conn, {"key": message_id, "hash": content_hash})
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
        _INSERT_MESSAGE.run(
            self.conn,
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
            row = _THREAD_CASE.first(self.conn, {"ref": ref})
            if row is not None and row.case_id:
                return self.case(row.case_id)
        return None

    def open_case_with_n_number(self, n_numbers: list[str]) -> Case | None:
        for n in n_numbers:
            rows = [row for row in _CASES_OF_NUMBER.rows(self.conn, {"n": n}) if row.state not in _CLOSED_STATES]
            if rows:
                return self._case(rows[-1])
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
        values = {
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
        }
        if self.conn.dialect.name == "sqlite":
            named = _INSERT_NAMED_CASE.first(self.conn, values)
            case_id = str(named.case_id)  # type: ignore[union-attr]
        else:
            # A placeholder that fits the column (PostgreSQL holds it to its 20 characters)
            # until the row id from the sequence gives the case its id.
            inserted = _INSERT_CASE.first(self.conn, {**values, "case_id": f"new-{uuid.uuid4().hex[:16]}"})
            row_id = int(inserted.id)  # type: ignore[union-attr]
            # Case ids come from the row id so they are unique without a second counter.
            case_id = f"SD{row_id:06d}"
            _NAME_CASE.run(self.conn, {"row_id": row_id, "new_id": case_id})
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
        if len(rows) == 1:
            _INSERT_NUMBER.run(self.conn, rows[0])
        else:
            _INSERT_NUMBER.run_many(self.conn, rows)

    def case(self, case_id: str) -> Case | None:
        row = _CASE_BY_ID.first(self.conn, {"case_id": case_id})
        return None if row is None else self._case(row)

    def _case(self, row: Any) -> Case:
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
            _DELETE_NUMBERS.run(self.conn, {"case_id": case_id})
            self._index_numbers(case_id, details.n_numbers)
        if effective_day is not None:
            values["effective_day"] = effective_day.isoformat()
        _update_of(tuple(values)).run(self.conn, {**values, "of_case": case_id})

    def cases_for(self, reference: str) -> list[Case]:
        # A case id (SD000012) or an N number: one statement for both (issue 18).
        return [self._case(row) for row in _CASES_FOR.rows(self.conn, {"n": reference})]

    def open_cases(self) -> list[Case]:
        return [self._case(row) for row in self.conn.execute(_OPEN_CASES)]

    # -- bookings ------------------------------------------------------------------------

    def add_booking(self, booking: Booking) -> None:
        _INSERT_BOOKING.run(
            self.conn,
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
        values = {"start": utc_text(start), "end": utc_text(end), "sequence": sequence, "status": status}
        _SET_BOOKING.run(self.conn, {**values, "of_case": case_id})

    def booking_for(self, case_id: str) -> Booking | None:
        row = _BOOKING_OF_CASE.first(self.conn, {"case_id": case_id}) if case_id is not None else None
        if row is None:
            return None
        return Booking(row.case_id, row.uid, from_utc_text(row.start), from_utc_text(row.end), row.sequence, row.status)

    def bookings_between(self, start: datetime, end: datetime) -> list[Booking]:
        rows = _BOOKINGS_BETWEEN.rows(self.conn, {"start": utc_text(start), "end": utc_text(end)})
        return [
            Booking(r.case_id, r.uid, from_utc_text(r.start), from_utc_text(r.end), r.sequence, r.status) for r in rows
        ]


def _update_of(columns: tuple[str, ...]) -> Prepared:
    """The UPDATE of one case's ``columns`` (its id bound as ``of_case``), built once per set of columns."""
    statement = _UPDATES.get(columns)
    if statement is None:
        change = update(t.cases).where(t.cases.c.case_id == bindparam("of_case")).values(_values(t.cases, *columns))
        statement = _UPDATES[columns] = Prepared(change)
    return statement
