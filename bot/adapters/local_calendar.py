"""The embedded strategy calendar: a table in the bot's database, published as an .ics feed."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, delete, insert, literal_column, select, union_all, update
from sqlalchemy.exc import IntegrityError

from bot.adapters import sql_schema as t
from bot.adapters.sql_rows import from_utc_text, utc_text
from bot.adapters.sql_statements import Prepared
from bot.adapters.sql_store import SqlStore
from bot.domain.model import CalendarEvent, Interval
from bot.errors import PermanentError, SlotTaken
from bot.sealing import PREFIX, Sealer

# PostgreSQL's SQLSTATE for a row refused by an exclusion constraint.
EXCLUSION_VIOLATION = "23P01"

# Overlapping [start, end): read through ix_calendar_events_end (`end > :start`), which holds
# only the events ending after the look-up's start (the future ones, in normal use). SQLite
# would otherwise walk the start index over every earlier event: `start || ''` and no ORDER BY
# in SQL keep it off that index.
_OVERLAPPING = (
    t.calendar_events.c.end > bindparam("start"),
    t.calendar_events.c.start + literal_column("''") < bindparam("end"),
)
# Compiled once per database and run on the driver's cursor (bot.adapters.sql_statements).
_EVENTS_BETWEEN = Prepared(select(t.calendar_events).where(*_OVERLAPPING))
_BUSY_BETWEEN = Prepared(select(t.calendar_events.c.start, t.calendar_events.c.end).where(*_OVERLAPPING))
_UIDS_BETWEEN = Prepared(select(t.calendar_events.c.uid).where(*_OVERLAPPING))
# Booking: the event itself if already there (a retry), and the events its time overlaps, in one
# statement; each branch through its own index.
_SAME_OR_OVERLAPPING = Prepared(
    union_all(
        select(t.calendar_events.c.uid).where(t.calendar_events.c.uid == bindparam("uid")),
        select(t.calendar_events.c.uid).where(*_OVERLAPPING),
    )
)
_UID = Prepared(select(t.calendar_events.c.uid).where(t.calendar_events.c.uid == bindparam("uid")))
_BOOKED = Prepared(
    select(t.calendar_events.c.start, t.calendar_events.c.end).where(t.calendar_events.c.uid == bindparam("uid"))
)
_EVENT_COLUMNS = tuple(c.key for c in t.calendar_events.c if c.key != "id")
_INSERT = Prepared(insert(t.calendar_events).values({name: bindparam(name) for name in _EVENT_COLUMNS}))
_MOVE = Prepared(
    update(t.calendar_events)
    .where(t.calendar_events.c.uid == bindparam("of_uid"))
    .values({name: bindparam(name) for name in _EVENT_COLUMNS})
)
_CANCEL = Prepared(delete(t.calendar_events).where(t.calendar_events.c.uid == bindparam("uid")))
# The feed: every event ending after a moment (the same index), whatever the calendar's age.
_ENDING_AFTER = select(t.calendar_events).where(t.calendar_events.c.end > bindparam("since"))


class LocalCalendar:
    """A strategy calendar that refuses overlaps; it joins the store's open unit of work."""

    sends_invitations = False  # the bot's confirmation carries the invitation

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def busy(self, start: datetime, end: datetime) -> list[Interval]:
        # Times only: nothing to open when the events are sealed.
        with self._store.connection() as conn:
            found = _BUSY_BETWEEN.rows(conn, {"start": utc_text(start), "end": utc_text(end)})
        rows = sorted(found, key=lambda row: row.start)  # UTC text sorts as the instants do
        return [Interval(from_utc_text(row.start), from_utc_text(row.end)) for row in rows]

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        with self._store.connection() as conn:
            found = _EVENTS_BETWEEN.rows(conn, {"start": utc_text(start), "end": utc_text(end)})
        rows = sorted(found, key=lambda row: row.start)  # UTC text sorts as the instants do
        return [_event(row, self._store.sealer) for row in rows]

    def all_events(self) -> list[CalendarEvent]:
        with self._store.connection() as conn:
            rows = conn.execute(select(t.calendar_events).order_by(t.calendar_events.c.start)).all()
        return [_event(row, self._store.sealer) for row in rows]

    def book(self, event: CalendarEvent) -> None:
        with self._store.connection() as conn:
            if event.may_overlap:
                if _UID.first(conn, {"uid": event.uid}) is not None:
                    return  # a retry of a booking already made
            else:
                span = {"uid": event.uid, "start": utc_text(event.start), "end": utc_text(event.end)}
                found = [row.uid for row in _SAME_OR_OVERLAPPING.rows(conn, span)]
                if event.uid in found:
                    return  # a retry of a booking already made
                _refuse(event, found)
            _write(conn, event, _INSERT, _row(event, self._store.sealer))

    def booked(self, uid: str) -> Interval | None:
        with self._store.connection() as conn:
            row = _BOOKED.first(conn, {"uid": uid})
        return Interval(from_utc_text(row.start), from_utc_text(row.end)) if row is not None else None

    def move(self, event: CalendarEvent) -> None:
        with self._store.connection() as conn:
            self._refuse_overlap(event)
            _write(conn, event, _MOVE, {**_row(event, self._store.sealer), "of_uid": event.uid})

    def cancel(self, uid: str) -> None:
        with self._store.connection() as conn:
            _CANCEL.run(conn, {"uid": uid})

    def _refuse_overlap(self, event: CalendarEvent) -> None:
        if event.may_overlap:
            return
        with self._store.connection() as conn:
            found = _UIDS_BETWEEN.rows(conn, {"start": utc_text(event.start), "end": utc_text(event.end)})
        _refuse(event, [row.uid for row in found])

    def publish(
        self, path: Path, calendar_name: str, tz: ZoneInfo, stamp: datetime, since: datetime | None = None
    ) -> None:
        """Write the calendar as an .ics feed, atomically, for calendar users to subscribe to.

        ``since``: only the events ending after it (every later one, however far ahead); None:
        every event. Read on a connection of its own, so that it may run beside a unit of work
        on another thread (the daemon publishes in the background) and sees only what is committed.
        """
        from bot.mail.invitation import calendar_feed

        with self._store.engine.connect() as conn:
            if since is None:
                found = conn.execute(select(t.calendar_events)).all()
            else:
                found = conn.execute(_ENDING_AFTER, {"since": utc_text(since)}).all()
        events = [_event(row, self._store.sealer) for row in sorted(found, key=lambda row: row.start)]
        data = calendar_feed(events, calendar_name, tz, stamp)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".strategy-calendar.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def _refuse(event: CalendarEvent, overlapping: list[str]) -> None:
    clashes = [uid for uid in overlapping if uid != event.uid]
    if clashes:
        raise SlotTaken(f"{event.start.isoformat()}–{event.end.isoformat()} overlaps {len(clashes)} existing event(s)")


def _seal(sealer: Sealer | None, text: str) -> str:
    # The body names the family and the manager, the attendees are people: sealed at rest
    # like the case's details (privacy.key_env). Empty stays empty, as the purge leaves it.
    return sealer.seal_text(text) if sealer is not None and text else text


def _open(sealer: Sealer | None, text: str) -> str:
    if not text.startswith(PREFIX.decode()):
        return text  # written before sealing was turned on, or purged
    if sealer is None:
        raise PermanentError("calendar events are sealed; set privacy.key_env to the key they were sealed with")
    return sealer.open_text(text)


def _write(conn: Connection, event: CalendarEvent, statement: Prepared, values: dict[str, object]) -> None:
    """Insert or move an event; another writer's overlapping event, committed first, is ``SlotTaken``.

    The look before the write (``_refuse_overlap``) sees only committed events. On PostgreSQL
    the exclusion constraint (revision 0007) catches what it cannot: another instance booking
    the same slot at the same moment. The write is a savepoint of its own there, so the failed
    statement leaves the unit of work usable and the case goes on to the next free slot.
    """
    if conn.dialect.name != "postgresql":
        statement.run(conn, values)  # SQLite: one writer at a time; the look before was enough
        return
    try:
        with conn.begin_nested():
            statement.run(conn, values)
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        raise SlotTaken(
            f"{event.start.isoformat()}–{event.end.isoformat()} was taken by another writer at the same moment"
        ) from None


def _row(event: CalendarEvent, sealer: Sealer | None) -> dict[str, object]:
    return {
        "uid": event.uid,
        "subject": event.subject,
        "start": utc_text(event.start),
        "end": utc_text(event.end),
        "body": _seal(sealer, event.body),
        "location": event.location,
        "attendees": _seal(sealer, ",".join(event.attendees)),
        "organizer": event.organizer,
        "sequence": event.sequence,
        "private": 1 if event.private else 0,
        "may_overlap": 1 if event.may_overlap else 0,
    }


def _event(r: Any, sealer: Sealer | None) -> CalendarEvent:
    # A row by its columns' names: SQLAlchemy's, or a prepared statement's named tuple.
    return CalendarEvent(
        uid=r.uid,
        subject=r.subject,
        start=from_utc_text(r.start),
        end=from_utc_text(r.end),
        body=_open(sealer, r.body),
        location=r.location,
        attendees=tuple(a for a in _open(sealer, r.attendees).split(",") if a),
        organizer=r.organizer,
        sequence=r.sequence,
        private=bool(r.private),
    )
