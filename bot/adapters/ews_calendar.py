"""The strategy calendar on a calendar of an Exchange Server mailbox through EWS (exchangelib 5).

Logs carry event uids and counts, never subjects, bodies or addresses of people.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from exchangelib import CalendarItem, ExtendedProperty
from exchangelib.errors import ErrorFolderNotFound
from exchangelib.fields import InvalidField
from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY, SEND_TO_NONE
from exchangelib.properties import Attendee, Mailbox

from bot.adapters.ews_connection import LONDON, EwsMailbox, is_gone
from bot.adapters.ews_folders import child_folder
from bot.adapters.ews_times import aware, ews_time, require_zone
from bot.config import CalendarConfig, EwsConfig
from bot.domain.model import CalendarEvent, Interval
from bot.errors import PermanentError, SlotTaken

log = logging.getLogger(__name__)

T = TypeVar("T")

# The named property that carries the bot's uid on the events it books: a retry finds the event
# it already made instead of making a second. The GUID is ours and must never change.
UID_PROPERTY_SET = "8a3c6f0e-2d1b-4e57-9c4a-5b7d0e1f3a62"
UID_PROPERTY_NAME = "StrategyBotUid"
UID_FIELD = "strategy_bot_uid"


class StrategyBotUid(ExtendedProperty):  # type: ignore[misc]
    """The bot's uid of an event, as a string named property in our own property set."""

    property_set_id = UID_PROPERTY_SET
    property_name = UID_PROPERTY_NAME
    property_type = "String"


def register_uid_property() -> None:
    """Make ``strategy_bot_uid`` a field of ``CalendarItem``; idempotent (exchangelib keeps it class-wide)."""
    try:
        CalendarItem.get_field_by_fieldname(UID_FIELD)
    except InvalidField:
        CalendarItem.register(UID_FIELD, StrategyBotUid)


_VIEW_FIELDS = ("start", "end", "is_cancelled", "legacy_free_busy_status", UID_FIELD)
# What a move changes: everything a COMPLEX or RESCHEDULE reply may change, as Graph's PATCH does.
_MOVE_FIELDS = ["subject", "body", "location", "required_attendees", "sensitivity", "start", "end"]
_EVENT_FIELDS = (
    *_VIEW_FIELDS,
    "subject",
    "body",
    "location",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "sensitivity",
)


class EwsCalendar:
    """The ``StrategyCalendar`` port on a calendar of the strategy calendar's mailbox.

    Exchange sends the meeting requests, updates and cancellations to the attendees itself
    (``sends_invitations``). Each event the bot books carries its uid in a named property
    (``StrategyBotUid``); events made by hand have none and go by their item id. Busy time is
    every event in the calendar except those shown as Free, as with Graph's ``showAs``.
    """

    sends_invitations = True

    def __init__(
        self,
        ews_cfg: EwsConfig,
        calendar_cfg: CalendarConfig,
        sleep: Callable[[float], None] = time.sleep,
        zone: ZoneInfo = LONDON,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = calendar_cfg.name
        self.zone = zone
        self.mailbox = EwsMailbox(ews_cfg, ews_cfg.calendar_mailbox, "strategy calendar's mailbox", sleep, now)
        self._folder: Any = None
        register_uid_property()

    @classmethod
    def from_config(cls, ews_cfg: EwsConfig, calendar_cfg: CalendarConfig) -> EwsCalendar:
        return cls(ews_cfg, calendar_cfg)

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        """``EwsMailbox.call``; a calendar folder gone (deleted, maybe made again) drops its cached id first."""

        def guarded(account: Any) -> T:
            try:
                return fn(account)
            except ErrorFolderNotFound:
                self._folder = None  # found again by name on the next call
                raise

        return self.mailbox.call(what, guarded)

    # -- finding things

    def _calendar(self, account: Any) -> Any:
        """The calendar named ``calendar.name``: the mailbox's own Calendar, or a calendar inside it."""
        if self._folder is None:
            default = account.calendar
            if (default.name or "").casefold() == self.name.casefold():
                self._folder = default
            else:
                found = child_folder(default, self.name)
                if found is None:
                    raise PermanentError(
                        f"no calendar named {self.name!r} in the mailbox {self.mailbox.address}: "
                        "make it in Outlook under that mailbox's Calendar, or set calendar.name"
                    )
                self._folder = found
        return self._folder

    def _view(self, account: Any, start: datetime, end: datetime, fields: Sequence[str]) -> list[Any]:
        query = self._calendar(account).view(start=ews_time(start, self.zone), end=ews_time(end, self.zone))
        wanted = Interval(start, end)
        items = []
        for item in query.only(*fields):
            if isinstance(item, Exception):
                raise item
            if item.is_cancelled or item.start is None or item.end is None:
                continue
            if Interval(aware(item.start), aware(item.end)).overlaps(wanted):
                items.append(item)
        return sorted(items, key=lambda i: i.start)

    def _find(self, account: Any, uid: str) -> Any | None:
        """The event with this uid: by our named property, or by item id for one made by hand."""
        folder = self._calendar(account)
        for item in folder.filter(**{UID_FIELD: uid}).only("start", "end", "subject", "required_attendees", UID_FIELD):
            if isinstance(item, Exception):
                raise item
            return item
        if "@" in uid:
            return None  # one of ours: an item id has no "@"
        [item] = account.fetch(ids=[(uid, None)], only_fields=["start", "end", "subject", "required_attendees"])
        if isinstance(item, Exception):
            if is_gone(item):
                return None
            raise item
        return item

    @staticmethod
    def _blocks(item: Any) -> bool:
        """An event shown as Free (a note, a reminder) does not block a slot; anything else does."""
        return str(item.legacy_free_busy_status or "Busy").casefold() != "free"

    def _refuse_overlap(self, account: Any, event: CalendarEvent, own_id: str | None) -> None:
        if event.may_overlap:
            return
        clashes = [
            i for i in self._view(account, event.start, event.end, _VIEW_FIELDS) if i.id != own_id and self._blocks(i)
        ]
        if clashes:
            raise SlotTaken(
                f"{event.start.isoformat()}–{event.end.isoformat()} overlaps {len(clashes)} event(s) "
                f"in the calendar {self.name!r}"
            )

    # -- the port

    def busy(self, start: datetime, end: datetime) -> list[Interval]:
        require_zone(start, end)
        items = self._call("reading busy times", lambda a: self._view(a, start, end, _VIEW_FIELDS))
        return [Interval(aware(i.start, self.zone), aware(i.end, self.zone)) for i in items if self._blocks(i)]

    def booked(self, uid: str) -> Interval | None:
        item = self._call("looking for a booking", lambda a: self._find(a, uid))
        return Interval(aware(item.start, self.zone), aware(item.end, self.zone)) if item is not None else None

    def book(self, event: CalendarEvent) -> None:
        require_zone(event.start, event.end)

        def book(account: Any) -> None:
            if self._find(account, event.uid) is not None:
                log.info("event %s is already in the calendar; not booking it again", event.uid)
                return
            self._refuse_overlap(account, event, None)
            item = CalendarItem(
                account=account,
                folder=self._calendar(account),
                subject=event.subject,
                body=event.body,
                location=event.location or None,
                start=ews_time(event.start, self.zone),
                end=ews_time(event.end, self.zone),
                required_attendees=[Attendee(mailbox=Mailbox(email_address=a)) for a in event.attendees] or None,
                sensitivity="Private" if event.private else "Normal",
                legacy_free_busy_status="Busy",
                reminder_is_set=False,
                **{UID_FIELD: event.uid},
            )
            item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
            log.info("booked event %s; Exchange invites %d attendee(s)", event.uid, len(event.attendees))

        self._call(f"booking event {event.uid}", book)

    def move(self, event: CalendarEvent) -> None:
        """New times and details (subject, body, location, attendees) for the booking; Exchange tells everyone."""
        require_zone(event.start, event.end)

        def move(account: Any) -> bool:
            item = self._find(account, event.uid)
            if item is None:
                return False
            self._refuse_overlap(account, event, item.id)
            item.subject = event.subject
            item.body = event.body
            item.location = event.location or None
            item.required_attendees = [Attendee(mailbox=Mailbox(email_address=a)) for a in event.attendees] or None
            item.sensitivity = "Private" if event.private else "Normal"
            item.start = ews_time(event.start, self.zone)
            item.end = ews_time(event.end, self.zone)
            item.save(update_fields=_MOVE_FIELDS, send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
            log.info("moved event %s; Exchange tells its attendees", event.uid)
            return True

        if not self._call(f"moving event {event.uid}", move):
            log.warning("event %s to move is not in the calendar (deleted by hand?); booking it afresh", event.uid)
            self.book(event)

    def cancel(self, uid: str) -> None:
        def cancel(account: Any) -> None:
            item = self._find(account, uid)
            if item is None:
                log.info("event %s is not in the calendar; nothing to cancel", uid)
                return
            if item.required_attendees:
                item.cancel()  # CancelCalendarItem: the attendees get a cancellation
            else:
                item.move_to_trash(send_meeting_cancellations=SEND_TO_NONE)
            log.info("cancelled event %s", uid)

        self._call(f"cancelling event {uid}", cancel)

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        require_zone(start, end)
        items = self._call("reading events", lambda a: self._view(a, start, end, _EVENT_FIELDS))
        return [self._event(i) for i in items]

    def _event(self, item: Any) -> CalendarEvent:
        attendees = [*(item.required_attendees or ()), *(item.optional_attendees or ())]
        return CalendarEvent(
            uid=getattr(item, UID_FIELD, None) or item.id,
            subject=item.subject or "",
            start=aware(item.start, self.zone),
            end=aware(item.end, self.zone),
            body=str(item.body or ""),
            location=item.location or "",
            attendees=tuple(a.mailbox.email_address for a in attendees if a.mailbox and a.mailbox.email_address),
            organizer=(item.organizer.email_address if item.organizer else "") or "",
            private=item.sensitivity == "Private",
        )

    def check(self) -> list[str]:
        return self.mailbox.problems(self._calendar, f"opening the calendar {self.name!r}")

    def throttled_until(self) -> datetime | None:
        """When Exchange lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.mailbox.busy_until()

    def close(self) -> None:
        self._folder = None
        self.mailbox.close()
