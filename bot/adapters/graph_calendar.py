"""The strategy calendar: a named Outlook calendar in a Microsoft 365 mailbox, through Microsoft Graph.

Busy time comes from ``calendarView`` on that calendar, not from ``getSchedule``: getSchedule
answers for a mailbox's default calendar only, and the strategy calendar is usually a second
calendar in a shared mailbox. calendarView lists every event in it, those made by hand
included, with recurring ones expanded into their occurrences (domain.md §3.3).

Our uid goes into a named extended property of the event, so a booking is found again after
a restart and ``events`` gives it back under the same uid; events made by hand carry their
Graph id instead. The create call also carries a ``transactionId`` derived from the booking,
so a POST retried after a lost answer makes no second event; whether Graph answers that
repeat 201, 409 or 400, the event is then found by our uid and kept. Times are sent and read as
London wall time; Exchange sends the invitations itself (``sends_invitations``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from bot.adapters.graph_client import GraphClient, body, odata_string, segment, unexpected
from bot.config import CalendarConfig, GraphConfig
from bot.domain.model import CalendarEvent, Interval
from bot.errors import PermanentError, SlotTaken, TransientError

log = logging.getLogger(__name__)

LONDON_NAME = "Europe/London"
LONDON = ZoneInfo(LONDON_NAME)
# Where our uid lives on an event: a string property in our own namespace.
UID_PROPERTY = "String {5b0e4c1a-7d2f-4c8e-9a31-6f1d2b8e4c70} Name StrategyBotUid"
# Derives the transactionId of a booking: the same booking always gets the same one.
TRANSACTION_NAMESPACE = uuid.UUID("3f6c9e2a-1b7d-4e5f-8a90-c2d4e6f8a1b3")
# Windows time zone names Graph may answer with, for zones we meet.
WINDOWS_ZONES = {"GMT Standard Time": LONDON_NAME, "Greenwich Standard Time": "UTC", "UTC": "UTC"}
CALENDARS = "Calendars.ReadWrite"
SELECT = "id,subject,start,end,isCancelled,showAs,body,location,attendees,organizer,sensitivity"
CANCEL_COMMENT = "This strategy discussion has been cancelled."


def transaction_id(event: CalendarEvent) -> str:
    """Stable for one booking (uid, times, sequence) and different between uids."""
    start, end = event.start.astimezone(UTC).isoformat(), event.end.astimezone(UTC).isoformat()
    key = f"{event.uid}|{start}|{end}|{event.sequence}"
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, key))


def wall_time(when: datetime) -> dict[str, str]:
    """A Graph dateTimeTimeZone in London wall time: 10:00 is "10:00" in summer and in winter."""
    return {"dateTime": when.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": LONDON_NAME}


def parse_time(value: dict[str, Any]) -> datetime:
    """A Graph dateTimeTimeZone as an aware datetime; London is assumed when the zone is unknown (we ask for it)."""
    text = str(value.get("dateTime", ""))
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is not None:
        return when
    name = str(value.get("timeZone") or LONDON_NAME)
    name = WINDOWS_ZONES.get(name, name)
    try:
        zone: Any = UTC if name.upper() in ("UTC", "ETC/UTC") else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = LONDON
    return when.replace(tzinfo=zone)


class GraphCalendar:
    """The ``StrategyCalendar`` port on the Outlook calendar named ``calendar.name`` in ``graph.calendar_mailbox``."""

    sends_invitations = True

    def __init__(self, client: GraphClient, mailbox: str, name: str) -> None:
        self.client = client
        self.mailbox = mailbox
        self.name = name
        self.base = f"/users/{segment(mailbox)}"
        self._calendar_id: str | None = None

    @classmethod
    def from_config(cls, graph_cfg: GraphConfig, calendar_cfg: CalendarConfig) -> GraphCalendar:
        return cls(GraphClient(graph_cfg), graph_cfg.calendar_mailbox, calendar_cfg.name)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        return self.client.request(method, path, need=CALENDARS, mailbox=self.mailbox, what=what, **kwargs)

    def _calendar(self) -> str:
        if self._calendar_id is None:
            what = f"looking for the calendar {self.name!r}"
            found = body(
                self._call(
                    "GET",
                    f"{self.base}/calendars",
                    what,
                    params={"$filter": f"name eq {odata_string(self.name)}", "$select": "id,name,canEdit"},
                ),
                what,
            )
            matches = [c for c in found.get("value", []) if str(c.get("name", "")).lower() == self.name.lower()]
            exact = [c for c in matches if c.get("name") == self.name]
            if not matches:
                raise PermanentError(
                    f"the calendar {self.name!r} was not found in mailbox {self.mailbox}; create it there, "
                    "or set calendar.name to its exact name"
                )
            self._calendar_id = str((exact or matches)[0]["id"])
        return self._calendar_id

    def _view(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every event of the calendar overlapping [start, end), occurrences of series included."""
        params: dict[str, str] | None = {
            "startDateTime": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "$select": SELECT,
            "$expand": f"singleValueExtendedProperties($filter=id eq {odata_string(UID_PROPERTY)})",
            "$orderby": "start/dateTime",
            "$top": "200",
        }
        url = f"{self.base}/calendars/{segment(self._calendar())}/calendarView"
        events: list[dict[str, Any]] = []
        while True:
            page = body(
                self._call("GET", url, "reading the strategy calendar", params=params), "reading the strategy calendar"
            )
            events.extend(e for e in page.get("value", []) if not e.get("isCancelled"))
            next_link = page.get("@odata.nextLink")
            if not next_link:
                break
            url, params = str(next_link), None
        window = Interval(start, end)
        return [e for e in events if Interval(parse_time(e["start"]), parse_time(e["end"])).overlaps(window)]

    def _find(self, uid: str) -> dict[str, Any] | None:
        """Our event with this uid, if the calendar still holds it."""
        where = f"ep/id eq {odata_string(UID_PROPERTY)} and ep/value eq {odata_string(uid)}"
        what = "looking for a booking in the strategy calendar"
        answer = self._call(
            "GET",
            f"{self.base}/calendars/{segment(self._calendar())}/events",
            what,
            params={
                "$filter": f"singleValueExtendedProperties/Any(ep: {where})",
                "$select": SELECT,
                "$expand": f"singleValueExtendedProperties($filter=id eq {odata_string(UID_PROPERTY)})",
            },
        )
        found = [e for e in body(answer, what).get("value", []) if not e.get("isCancelled") and _uid(e) == uid]
        return found[0] if found else None

    @staticmethod
    def _busy(events: list[dict[str, Any]], skip: str | None = None) -> list[Interval]:
        # An event shown as free (a note, a reminder) does not block a slot; anything else does.
        return sorted(
            (
                Interval(parse_time(e["start"]), parse_time(e["end"]))
                for e in events
                if e.get("id") != skip and str(e.get("showAs", "busy")).lower() != "free"
            ),
            key=lambda i: (i.start, i.end),
        )

    def busy(self, start: datetime, end: datetime) -> list[Interval]:
        with unexpected("reading the strategy calendar"):
            return self._busy(self._view(start, end))

    def _fields(self, event: CalendarEvent) -> dict[str, Any]:
        return {
            "subject": event.subject,
            "body": {"contentType": "text", "content": event.body},
            "start": wall_time(event.start),
            "end": wall_time(event.end),
            "location": {"displayName": event.location},
            "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in event.attendees],
            "sensitivity": "private" if event.private else "normal",
        }

    def book(self, event: CalendarEvent) -> None:
        """Create the event; a booking already there under this uid is left as it is."""
        with unexpected("booking the strategy calendar"):
            self._book(event)

    def _book(self, event: CalendarEvent) -> None:
        if self._find(event.uid) is not None:
            log.info("booking %s is already in the strategy calendar", event.uid)
            return
        if not event.may_overlap and self._busy(self._view(event.start, event.end)):
            raise SlotTaken(f"{event.start:%Y-%m-%d %H:%M}–{event.end:%H:%M} overlaps another event")
        fields = {
            **self._fields(event),
            "showAs": "busy",
            "isOnlineMeeting": False,
            "responseRequested": True,
            "allowNewTimeProposals": False,
            "transactionId": transaction_id(event),
            "singleValueExtendedProperties": [{"id": UID_PROPERTY, "value": event.uid}],
        }
        where = f"{self.base}/calendars/{segment(self._calendar())}/events"
        resp = self._call("POST", where, "booking the strategy calendar", json=fields, allow=(400, 409))
        if resp.status_code in (400, 409):
            # What Graph answers to a transactionId it has seen is not documented: 201 with the
            # event, 409 or 400. Ours is found by its uid; if it is not there, the create is made
            # once more without the transactionId (a genuine 400 is then refused again).
            if self._find(event.uid) is not None:
                log.info("booking %s was already made (Graph answered %d to it again)", event.uid, resp.status_code)
                return
            del fields["transactionId"]
            self._call("POST", where, "booking the strategy calendar", json=fields)
        log.info("booked %s in the strategy calendar at %s", event.uid, event.start.isoformat())

    def booked(self, uid: str) -> Interval | None:
        with unexpected("looking for a booking in the strategy calendar"):
            found = self._find(uid)
            return Interval(parse_time(found["start"]), parse_time(found["end"])) if found is not None else None

    def move(self, event: CalendarEvent) -> None:
        """New times and details for the booking with this uid; Exchange sends the attendees the update."""
        with unexpected("moving a booking in the strategy calendar"):
            found = self._find(event.uid)
            if found is None:
                self._book(event)
                return
            if not event.may_overlap and self._busy(self._view(event.start, event.end), skip=str(found["id"])):
                raise SlotTaken(f"{event.start:%Y-%m-%d %H:%M}–{event.end:%H:%M} overlaps another event")
            self._call(
                "PATCH",
                f"{self.base}/events/{segment(str(found['id']))}",
                "moving a booking in the strategy calendar",
                json=self._fields(event),
            )
            log.info("moved %s in the strategy calendar to %s", event.uid, event.start.isoformat())

    def cancel(self, uid: str) -> None:
        """Cancel the booking (Exchange tells the attendees); one already gone is fine."""
        with unexpected("cancelling a booking in the strategy calendar"):
            found = self._find(uid)
            if found is None:
                return
            path = f"{self.base}/events/{segment(str(found['id']))}"
            resp = self._call(
                "POST",
                f"{path}/cancel",
                "cancelling a booking in the strategy calendar",
                json={"comment": CANCEL_COMMENT},
                allow=(400, 404),
            )
            if resp.status_code == 400:
                # Cancel is for meetings the mailbox organises; an event without attendees is deleted instead.
                self._call("DELETE", path, "deleting a booking from the strategy calendar", allow=(404,))
            log.info("cancelled %s in the strategy calendar", uid)

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        with unexpected("reading the strategy calendar"):
            found = [_event(e) for e in self._view(start, end)]
            return sorted(found, key=lambda e: (e.start, e.uid))

    def check(self) -> list[str]:
        """What ``check-config`` reports, in plain words: empty when the calendar is ready.

        Listing the mailbox's calendars proves the app may read them; writing (Calendars.ReadWrite)
        is not tried, since that would put something in the calendar.
        """
        try:
            with unexpected(f"looking for the calendar {self.name!r}"):
                self.client.token()
                self._calendar()
        except (TransientError, PermanentError) as exc:
            return [f"Graph calendar: {exc}"]
        return []

    def throttled_until(self) -> datetime | None:
        """When Graph lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.client.throttled_until(self.mailbox)

    def close(self) -> None:
        self.client.close()


def _uid(event: dict[str, Any]) -> str | None:
    for prop in event.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == UID_PROPERTY.lower():
            return str(prop.get("value"))
    return None


def _event(e: dict[str, Any]) -> CalendarEvent:
    return CalendarEvent(
        uid=_uid(e) or str(e["id"]),
        subject=str(e.get("subject") or ""),
        start=parse_time(e["start"]),
        end=parse_time(e["end"]),
        body=str((e.get("body") or {}).get("content") or ""),
        location=str((e.get("location") or {}).get("displayName") or ""),
        attendees=tuple(
            str(a["emailAddress"]["address"])
            for a in e.get("attendees") or ()
            if (a.get("emailAddress") or {}).get("address")
        ),
        organizer=str(((e.get("organizer") or {}).get("emailAddress") or {}).get("address") or ""),
        private=str(e.get("sensitivity", "")).lower() in ("private", "confidential"),
    )
