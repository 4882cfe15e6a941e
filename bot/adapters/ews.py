"""The referral inbox, the sender and the strategy calendar on Exchange Server through EWS (exchangelib 5).

exchangelib is imported here, and this module only from ``bot.wiring``'s factories, so the
embedded default starts without it. Every server call goes through ``EwsMailbox.call``
(bot/adapters/ews_connection.py): bounded waits for a busy server, errors in words.
Logs carry item ids, counts and folder names, never subjects, bodies or addresses of people.
"""

from __future__ import annotations

import email
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from email.policy import compat32
from email.utils import getaddresses
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib import CalendarItem, ExtendedProperty, Message
from exchangelib.ewsdatetime import EWSDateTime
from exchangelib.fields import InvalidField
from exchangelib.folders import Folder as EwsFolder
from exchangelib.folders import FolderCollection
from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY, SEND_TO_NONE
from exchangelib.properties import Attendee, Mailbox
from exchangelib.queryset import Q
from exchangelib.services import CreateFolder

from bot.adapters.ews_connection import LONDON, EwsMailbox, is_gone
from bot.config import CalendarConfig, EwsConfig, InboxConfig
from bot.domain.model import CalendarEvent, Interval
from bot.errors import PermanentError, SlotTaken
from bot.ports import AdapterState, Folder, IncomingMail, handled_folders

log = logging.getLogger(__name__)

# Messages fetched in one GetItem: enough to move a backlog, small enough for memory.
FETCH_CHUNK = 10
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


def _aware(value: Any, zone: tzinfo = UTC) -> datetime:
    """An exchangelib ``EWSDateTime`` (always aware) as a plain ``datetime`` in ``zone``."""
    return datetime.fromtimestamp(value.timestamp(), tz=zone)


def _ews_time(value: datetime, zone: ZoneInfo) -> Any:
    _require_zone(value)
    return EWSDateTime.from_datetime(value.astimezone(zone))


def _require_zone(*values: datetime) -> None:
    """A calendar time without a time zone is a bug in the caller: refused before Exchange is asked."""
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise PermanentError(
                f"the calendar time {value:%Y-%m-%d %H:%M} has no time zone, so it cannot be sent to Exchange; "
                "calendar times must say which zone they are in"
            )


def _child_folder(parent: Any, name: str) -> Any | None:
    """The direct sub-folder of ``parent`` called ``name`` (FindFolder, shallow), or None."""
    wanted = name.casefold()
    for found in FolderCollection(account=parent.account, folders=[parent]).find_folders(
        q=Q(name=name), depth="Shallow"
    ):
        if isinstance(found, Exception):
            raise found
        if (found.name or "").casefold() == wanted:
            return found
    return None


# -- the inbox ------------------------------------------------------------------------------------


class EwsInbox:
    """The ``Inbox`` port on a folder of the referral mailbox.

    The folder is listed afresh on every ``pending()`` (FindItem, oldest first), so a message
    offered but not moved before a restart is offered again: nothing is kept in
    ``AdapterState``. A message's key is its EWS item id, good until it is moved.
    """

    def __init__(
        self,
        ews_cfg: EwsConfig,
        inbox_cfg: InboxConfig,
        state: AdapterState | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cfg = inbox_cfg
        self.state = state
        self.sleep = sleep
        self.mailbox = EwsMailbox(ews_cfg, ews_cfg.mailbox, "referral mailbox", sleep, now)
        self.names = handled_folders(inbox_cfg)
        self._watched: Any = None
        self._watched_parent: Any = None
        self._handled: dict[Folder, Any] = {}

    @classmethod
    def from_config(cls, ews_cfg: EwsConfig, inbox_cfg: InboxConfig, state: AdapterState) -> EwsInbox:
        return cls(ews_cfg, inbox_cfg, state)

    # -- folders

    def _watched_folder(self, account: Any) -> Any:
        """The watched folder: the Inbox, a folder under Top of Information Store, or a path (``Inbox/Referrals``)."""
        if self._watched is None:
            parts = [part.strip() for part in self.cfg.folder.split("/") if part.strip()]
            parent: Any = None
            found: Any = None
            for depth, name in enumerate(parts):
                if depth == 0 and name.casefold() == "inbox":
                    parent, found = account.msg_folder_root, account.inbox
                    continue
                parent = account.msg_folder_root if found is None else found
                found = _child_folder(parent, name)
                if found is None:
                    break
            if found is None:
                raise PermanentError(
                    f"the watched folder {self.cfg.folder!r} does not exist in the referral mailbox "
                    f"{self.mailbox.address}"
                )
            self._watched, self._watched_parent = found, parent
        return self._watched

    def _handled_folder(self, account: Any, folder: Folder) -> Any:
        """The handled folder beside the watched one, made the first time it is needed."""
        if folder not in self._handled:
            name = self.names[folder]
            self._watched_folder(account)
            parent = self._watched_parent
            found = _child_folder(parent, name)
            if found is None:
                [made] = CreateFolder(account=account).call(
                    parent_folder=parent, folders=[EwsFolder(parent=parent, name=name)]
                )
                if isinstance(made, Exception):
                    raise made
                found = made
                log.info("created the folder %s in the referral mailbox", name)
            self._handled[folder] = found
        return self._handled[folder]

    # -- the port

    def pending(self) -> Iterator[IncomingMail]:
        listed: list[Any] = self.mailbox.call("listing the watched folder", self._list)
        for start in range(0, len(listed), FETCH_CHUNK):
            chunk = listed[start : start + FETCH_CHUNK]
            small = [i for i in chunk if (i.size or 0) <= self.cfg.max_message_bytes]
            large = [i for i in chunk if (i.size or 0) > self.cfg.max_message_bytes]
            raw: dict[str, bytes] = {}
            if small:
                raw.update(self.mailbox.call("fetching messages", partial(self._mime, items=small)))
            if large:
                raw.update(self.mailbox.call("fetching headers", partial(self._headers, items=large)))
            for item in chunk:
                if item.id not in raw:
                    continue  # gone between listing and fetching: moved by a person
                oversized = (item.size or 0) > self.cfg.max_message_bytes
                if oversized:
                    log.warning("message %s is %d bytes, over the limit: offered as headers only", item.id, item.size)
                with self.mailbox.guard("listing the watched folder"):
                    received = _aware(item.datetime_received)
                yield IncomingMail(item.id, raw[item.id], received, oversized)

    def _list(self, account: Any) -> list[Any]:
        query = self._watched_folder(account).all().only("datetime_received", "size").order_by("datetime_received")
        items = [i for i in query if not isinstance(i, Exception)]
        return sorted(items, key=lambda i: i.datetime_received)

    def _mime(self, account: Any, items: list[Any]) -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        for item in account.fetch(ids=[(i.id, i.changekey) for i in items], only_fields=["mime_content"]):
            if isinstance(item, Exception):
                if is_gone(item):
                    continue
                raise item
            got[item.id] = bytes(item.mime_content or b"")
        return got

    def _headers(self, account: Any, items: list[Any]) -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        for item in account.fetch(ids=[(i.id, i.changekey) for i in items], only_fields=["headers"]):
            if isinstance(item, Exception):
                if is_gone(item):
                    continue
                raise item
            lines = [f"{h.name}: {h.value or ''}" for h in item.headers or ()]
            got[item.id] = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
        return got

    def move(self, key: str, folder: Folder) -> None:
        def move(account: Any) -> None:
            target = self._handled_folder(account, folder)
            [result] = account.bulk_move(ids=[(key, None)], to_folder=target)
            if isinstance(result, Exception):
                if not is_gone(result):
                    raise result
                log.info("message %s is no longer in the watched folder; nothing to move", key)
                return
            log.info("moved message %s to %s", key, self.names[folder])

        self.mailbox.call(f"moving a message to {self.names[folder]}", move)

    def wait(self, timeout: float) -> bool:
        """EWS is polled: sleep the timeout and let the next ``pending()`` look."""
        self.sleep(max(timeout, 0.0))
        return False

    def check(self) -> list[str]:
        """What stops the inbox working, in words; empty when the mailbox and its watched folder answer."""
        return self.mailbox.problems(self._watched_folder, "opening the watched folder")

    def close(self) -> None:
        self._watched, self._watched_parent, self._handled = None, None, {}
        self.mailbox.close()


# -- the sender -----------------------------------------------------------------------------------


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block, line ending, rest) of a raw message."""
    for sep in (b"\r\n", b"\n"):
        head, blank, rest = raw.partition(sep + sep)
        if blank:
            return head, sep, rest
    return raw, b"\r\n", b""


def _without_headers(raw: bytes, names: set[str]) -> bytes:
    """``raw`` less the named header fields (with their folded continuation lines); nothing else changes."""
    head, sep, rest = _split_head(raw)
    kept: list[bytes] = []
    dropping = False
    for line in head.split(sep):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().decode("ascii", "replace").casefold() in names
        if not dropping:
            kept.append(line)
    return sep.join(kept) + sep + sep + rest


def _addressed(raw: bytes, field: str) -> list[tuple[str, str]]:
    head, _, _ = _split_head(raw)
    parsed = email.message_from_bytes(head + b"\r\n\r\n", policy=compat32)
    return [(name, addr) for name, addr in getaddresses([str(v) for v in parsed.get_all(field) or []]) if addr]


def recipient_plan(raw: bytes, recipients: Sequence[str]) -> tuple[bytes, list[Any], list[Any], list[Any]]:
    """The MIME to send and the To, Cc and Bcc recipients to add to it, so Exchange delivers to ``recipients`` only.

    Exchange delivers to everyone the MIME's To and Cc name, plus any recipients given beside
    it. Normally the envelope is exactly the To and Cc, and the MIME goes as it is; an envelope
    recipient not named there is added as Bcc. Only when the headers name someone outside
    the envelope are To and Cc taken out of the MIME and given as recipients instead, so
    nobody outside the envelope gets it; every other header is kept.
    """
    envelope = {r.casefold() for r in recipients}
    to, cc = _addressed(raw, "To"), _addressed(raw, "Cc")
    named = {addr.casefold() for _, addr in to + cc}
    hidden = [Mailbox(email_address=r) for r in recipients if r.casefold() not in named]
    if named <= envelope:
        return raw, [], [], hidden
    keep_to = [Mailbox(name=n or None, email_address=a) for n, a in to if a.casefold() in envelope]
    keep_cc = [Mailbox(name=n or None, email_address=a) for n, a in cc if a.casefold() in envelope]
    return _without_headers(raw, {"to", "cc"}), keep_to, keep_cc, hidden


class EwsSender:
    """The ``MailSender`` port: the rendered MIME sent as it is from the referral mailbox.

    Exchange reads the recipients from the MIME's To and Cc (see ``recipient_plan``). A copy
    is kept in the mailbox's Sent Items.
    """

    def __init__(
        self,
        ews_cfg: EwsConfig,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mailbox = EwsMailbox(ews_cfg, ews_cfg.mailbox, "referral mailbox", sleep, now)

    @classmethod
    def from_config(cls, ews_cfg: EwsConfig) -> EwsSender:
        return cls(ews_cfg)

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if not recipients:
            raise PermanentError(f"message {message_id} has no recipients")
        mime, to, cc, bcc = recipient_plan(raw, recipients)
        if mime is not raw:
            log.warning("message %s names recipients outside its envelope; sending to the envelope only", message_id)

        def send(account: Any) -> None:
            message = Message(
                account=account,
                folder=account.sent,
                mime_content=mime,
                to_recipients=to or None,
                cc_recipients=cc or None,
                bcc_recipients=bcc or None,
            )
            message.send_and_save()

        self.mailbox.call(f"sending message {message_id}", send)
        log.info("sent message %s to %d recipient(s) through Exchange", message_id, len(recipients))

    def check(self) -> list[str]:
        return self.mailbox.problems(lambda account: account.sent, "opening Sent Items")

    def close(self) -> None:
        self.mailbox.close()


# -- the calendar ---------------------------------------------------------------------------------

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

    # -- finding things

    def _calendar(self, account: Any) -> Any:
        """The calendar named ``calendar.name``: the mailbox's own Calendar, or a calendar inside it."""
        if self._folder is None:
            default = account.calendar
            if (default.name or "").casefold() == self.name.casefold():
                self._folder = default
            else:
                found = _child_folder(default, self.name)
                if found is None:
                    raise PermanentError(
                        f"no calendar named {self.name!r} in the mailbox {self.mailbox.address}: "
                        "make it in Outlook under that mailbox's Calendar, or set calendar.name"
                    )
                self._folder = found
        return self._folder

    def _view(self, account: Any, start: datetime, end: datetime, fields: Sequence[str]) -> list[Any]:
        query = self._calendar(account).view(start=_ews_time(start, self.zone), end=_ews_time(end, self.zone))
        wanted = Interval(start, end)
        items = []
        for item in query.only(*fields):
            if isinstance(item, Exception):
                raise item
            if item.is_cancelled or item.start is None or item.end is None:
                continue
            if Interval(_aware(item.start), _aware(item.end)).overlaps(wanted):
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
        _require_zone(start, end)
        items = self.mailbox.call("reading busy times", lambda a: self._view(a, start, end, _VIEW_FIELDS))
        return [Interval(_aware(i.start, self.zone), _aware(i.end, self.zone)) for i in items if self._blocks(i)]

    def booked(self, uid: str) -> Interval | None:
        item = self.mailbox.call("looking for a booking", lambda a: self._find(a, uid))
        return Interval(_aware(item.start, self.zone), _aware(item.end, self.zone)) if item is not None else None

    def book(self, event: CalendarEvent) -> None:
        _require_zone(event.start, event.end)

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
                start=_ews_time(event.start, self.zone),
                end=_ews_time(event.end, self.zone),
                required_attendees=[Attendee(mailbox=Mailbox(email_address=a)) for a in event.attendees] or None,
                sensitivity="Private" if event.private else "Normal",
                legacy_free_busy_status="Busy",
                reminder_is_set=False,
                **{UID_FIELD: event.uid},
            )
            item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
            log.info("booked event %s; Exchange invites %d attendee(s)", event.uid, len(event.attendees))

        self.mailbox.call(f"booking event {event.uid}", book)

    def move(self, event: CalendarEvent) -> None:
        """New times and details (subject, body, location, attendees) for the booking; Exchange tells everyone."""
        _require_zone(event.start, event.end)

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
            item.start = _ews_time(event.start, self.zone)
            item.end = _ews_time(event.end, self.zone)
            item.save(update_fields=_MOVE_FIELDS, send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
            log.info("moved event %s; Exchange tells its attendees", event.uid)
            return True

        if not self.mailbox.call(f"moving event {event.uid}", move):
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

        self.mailbox.call(f"cancelling event {uid}", cancel)

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        _require_zone(start, end)
        items = self.mailbox.call("reading events", lambda a: self._view(a, start, end, _EVENT_FIELDS))
        return [self._event(i) for i in items]

    def _event(self, item: Any) -> CalendarEvent:
        attendees = [*(item.required_attendees or ()), *(item.optional_attendees or ())]
        return CalendarEvent(
            uid=getattr(item, UID_FIELD, None) or item.id,
            subject=item.subject or "",
            start=_aware(item.start, self.zone),
            end=_aware(item.end, self.zone),
            body=str(item.body or ""),
            location=item.location or "",
            attendees=tuple(a.mailbox.email_address for a in attendees if a.mailbox and a.mailbox.email_address),
            organizer=(item.organizer.email_address if item.organizer else "") or "",
            private=item.sensitivity == "Private",
        )

    def check(self) -> list[str]:
        return self.mailbox.problems(self._calendar, f"opening the calendar {self.name!r}")

    def close(self) -> None:
        self._folder = None
        self.mailbox.close()
