"""iCalendar for the strategy calendar: Outlook invitations (RFC 5546) and the published feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from bot.domain.model import CalendarEvent

PRODID = "-//strategy-bot//EN"


def _timezone(tz: ZoneInfo, moments: Sequence[datetime]) -> Timezone:
    """A VTIMEZONE covering the events' years, so Outlook shows 10:00 on both sides of a clock change."""
    years = [m.astimezone(tz).year for m in moments] or [2026]
    return _vtimezone(str(tz.key), min(years) - 1, max(years) + 2)


@lru_cache(maxsize=64)
def _vtimezone(key: str, first_year: int, last_year: int) -> Timezone:
    # Working out the transitions is the slowest part of an invitation; they never change.
    return Timezone.from_tzinfo(
        ZoneInfo(key), tzid=key, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1)
    )


def _vevent(event_uid: str, subject: str, start: datetime, end: datetime, tz: ZoneInfo, stamp: datetime) -> Event:
    vevent = Event()
    vevent.add("uid", event_uid)
    vevent.add("dtstamp", stamp.astimezone(ZoneInfo("UTC")))
    vevent.add("dtstart", start.astimezone(tz))
    vevent.add("dtend", end.astimezone(tz))
    vevent.add("summary", subject)
    return vevent


def _address(address: str, **params: str) -> vCalAddress:
    value = vCalAddress(f"mailto:{address}")
    for key, param in params.items():
        value.params[key] = vText(param)
    return value


def invitation(event: CalendarEvent, method: str, tz: ZoneInfo, organizer_name: str, stamp: datetime) -> bytes:
    """One event as an iTIP message: METHOD:REQUEST to invite or move, METHOD:CANCEL to cancel.

    The UID stays the same for the life of a booking and SEQUENCE rises with each change,
    which is how Outlook knows an update or cancellation belongs to the meeting it holds.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add_component(_timezone(tz, [event.start, event.end]))
    vevent = _vevent(event.uid, event.subject, event.start, event.end, tz, stamp)
    vevent.add("sequence", event.sequence)
    if event.body:
        vevent.add("description", event.body)
    if event.location:
        vevent.add("location", event.location)
    vevent.add("class", "PRIVATE" if event.private else "PUBLIC")
    vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    if event.organizer:
        vevent.add("organizer", _address(event.organizer, CN=organizer_name))
    for attendee in event.attendees:
        vevent.add(
            "attendee",
            _address(attendee, CUTYPE="INDIVIDUAL", ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
            encode=True,
        )
    cal.add_component(vevent)
    return bytes(cal.to_ical())


def calendar_feed(events: Sequence[CalendarEvent], calendar_name: str, tz: ZoneInfo, stamp: datetime) -> bytes:
    """The whole strategy calendar as a subscribable feed (METHOD:PUBLISH)."""
    items = list(events)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", str(tz.key))
    cal.add_component(_timezone(tz, [e.start for e in items] or [stamp]))
    for event in items:
        vevent = _vevent(event.uid, event.subject, event.start, event.end, tz, stamp)
        vevent.add("sequence", event.sequence)
        vevent.add("class", "PRIVATE" if event.private else "PUBLIC")
        if event.location:
            vevent.add("location", event.location)
        cal.add_component(vevent)
    return bytes(cal.to_ical())
