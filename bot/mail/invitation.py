"""iCalendar for the strategy calendar: Outlook invitations (RFC 5546) and the published feed."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress, vText

from bot.domain.model import CalendarEvent

PRODID = "-//strategy-bot//EN"
METHODS = ("REQUEST", "CANCEL")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


# -- VTIMEZONE ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Transition:
    at: datetime  # the UTC instant the offset changes
    offset_from: timedelta
    offset_to: timedelta
    name: str

    @property
    def wall(self) -> datetime:
        """The onset as RFC 5545 wants it: local time in the offset in force before the change."""
        return (self.at + self.offset_from).replace(tzinfo=None)


@dataclass(frozen=True)
class _Rule:
    month: int
    ordinal: int  # 1..4, or -1 for the last such weekday of the month
    weekday: int  # Monday == 0
    at: time


def _transitions(tz: ZoneInfo, year: int) -> list[_Transition]:
    found: list[_Transition] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        before, after = day.astimezone(tz).utcoffset(), following.astimezone(tz).utcoffset()
        if before != after and before is not None and after is not None:
            low, high = day, following
            while high - low > timedelta(seconds=1):
                middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
                if middle.astimezone(tz).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            found.append(_Transition(high, before, after, high.astimezone(tz).tzname() or ""))
        day = following
    return found


def _rules(transition: _Transition) -> set[_Rule]:
    """Every "nth weekday of the month" reading of one transition: the 4th Sunday may also be the last."""
    wall = transition.wall
    rules = {_Rule(wall.month, (wall.day - 1) // 7 + 1, wall.weekday(), wall.time())}
    if wall.day + 7 > calendar.monthrange(wall.year, wall.month)[1]:
        rules.add(_Rule(wall.month, -1, wall.weekday(), wall.time()))
    return rules


def _onset(rule: _Rule, year: int) -> datetime:
    days = [d for d in calendar.Calendar().itermonthdates(year, rule.month) if d.month == rule.month]
    matching = [d for d in days if d.weekday() == rule.weekday]
    return datetime.combine(matching[rule.ordinal if rule.ordinal < 0 else rule.ordinal - 1], rule.at)


def _observance(
    kind: type[TimezoneStandard | TimezoneDaylight], transition: _Transition, rule: _Rule, year: int
) -> Component:
    observance = kind()
    observance.add("dtstart", _onset(rule, year))
    observance.add(
        "rrule", {"freq": "yearly", "bymonth": rule.month, "byday": f"{rule.ordinal}{_WEEKDAYS[rule.weekday]}"}
    )
    observance.add("tzoffsetfrom", transition.offset_from)
    observance.add("tzoffsetto", transition.offset_to)
    if transition.name:
        observance.add("tzname", transition.name)
    return observance


def _yearly_rules(key: str, first_year: int, last_year: int) -> Timezone | None:
    """The zone as two yearly rules, the way Outlook writes it, or None when its changes follow no such rule.

    Outlook reads the RRULE form and mishandles RDATE lists, which can put a 10:00 meeting
    at 09:00 or 11:00 on one side of a clock change.
    """
    tz = ZoneInfo(key)
    years = range(first_year, last_year + 1)
    per_year = [_transitions(tz, year) for year in years]
    vtimezone = Timezone()
    vtimezone.add("tzid", key)
    if not any(per_year):
        offset = datetime(first_year, 1, 1, tzinfo=tz).utcoffset() or timedelta(0)
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(1970, 1, 1))
        standard.add("tzoffsetfrom", offset)
        standard.add("tzoffsetto", offset)
        standard.add("tzname", datetime(first_year, 1, 1, tzinfo=tz).tzname() or key)
        vtimezone.add_component(standard)
        return vtimezone
    if any(len(changes) != 2 for changes in per_year):
        return None
    first = per_year[0]
    for changes in per_year:
        if [(c.offset_from, c.offset_to, c.name) for c in changes] != [
            (c.offset_from, c.offset_to, c.name) for c in first
        ]:
            return None
    for index, transition in enumerate(first):
        common = set.intersection(*(_rules(changes[index]) for changes in per_year))
        if not common:
            return None
        # "Last Sunday" is how the rule is written wherever it holds in every year.
        rule = min(common, key=lambda r: (r.ordinal != -1, r.ordinal))
        kind = TimezoneDaylight if transition.offset_to > transition.offset_from else TimezoneStandard
        # Starting the rule a year early leaves no gap before the first onset in the southern hemisphere.
        vtimezone.add_component(_observance(kind, transition, rule, first_year - 1))
    return vtimezone


@lru_cache(maxsize=64)
def _vtimezone(key: str, first_year: int, last_year: int) -> Timezone:
    # Working out the transitions is the slowest part of an invitation; they never change.
    return _yearly_rules(key, first_year, last_year) or Timezone.from_tzinfo(
        ZoneInfo(key), tzid=key, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )


def _years(tz: ZoneInfo, moments: Sequence[datetime]) -> tuple[str, int, int]:
    years = [m.astimezone(tz).year for m in moments] or [2026]
    return str(tz.key), min(years) - 1, max(years) + 1


def vtimezone(tz: ZoneInfo, moments: Sequence[datetime]) -> Timezone:
    """A VTIMEZONE for ``tz`` valid from the year before the earliest moment to the year after the last."""
    return _vtimezone(*_years(tz, moments))


@lru_cache(maxsize=64)
def _vtimezone_lines(key: str, first_year: int, last_year: int) -> tuple[str, ...]:
    # The same lines in every invitation of those years: serialized once.
    return _lines(_vtimezone(key, first_year, last_year))


# -- serializing ----------------------------------------------------------------------------


def _fold(line: str) -> str:
    """One content line folded exactly as icalendar folds it (RFC 5545 §3.1), without its per-character loop.

    Pieces of at most 74 octets joined by CRLF and a space; a piece that would end in ``\\``
    or ``^`` leaves that character to the next, so no escape is split across a fold.
    """
    if len(line) <= 74 and (line.isascii() or len(line.encode()) <= 74):
        return line
    if line.isascii():
        pieces = []
        start, length = 0, len(line)
        while length - start > 74:
            end = start + 73 if line[start + 73] in "\\^" else start + 74
            pieces.append(line[start:end])
            start = end
        pieces.append(line[start:])
        return "\r\n ".join(pieces)
    folded: list[str] = []
    current: list[str] = []
    octets = 0
    for char in line:
        size = len(char.encode())
        if current and octets + size >= 75:
            if len(current) > 1 and current[-1] in "\\^":
                escaped = current.pop()
                folded.append("".join(current))
                current, octets = [escaped], len(escaped.encode())
            else:
                folded.append("".join(current))
                current, octets = [], 0
        current.append(char)
        octets += size
    if current:
        folded.append("".join(current))
    return "\r\n ".join(folded)


def _lines(component: Component) -> tuple[str, ...]:
    """The component's folded content lines, BEGIN to END: what its ``to_ical`` joins with CRLF."""
    return tuple(_fold(line) for line in component.content_lines() if line)


def _ical(head: tuple[str, ...], timezone: tuple[str, ...], events: Iterable[tuple[str, ...]]) -> bytes:
    """The calendar whose own lines are ``head`` (BEGIN:VCALENDAR and its properties), holding the VTIMEZONE
    and the events, as bytes: what ``to_ical`` of a calendar holding them all writes.
    """
    lines = [*head, *timezone]
    for event in events:
        lines += event
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _head(calendar: Calendar) -> tuple[str, ...]:
    """BEGIN:VCALENDAR and the calendar's properties (it holds no component yet)."""
    return _lines(calendar)[:-1]


@lru_cache(maxsize=len(METHODS))
def _invitation_head(method: str) -> tuple[str, ...]:
    return _head(_calendar(method))


# -- events ---------------------------------------------------------------------------------


def _vevent(event: CalendarEvent, tz: ZoneInfo, stamp: datetime) -> Event:
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp.astimezone(UTC))
    vevent.add("dtstart", event.start.astimezone(tz))
    vevent.add("dtend", event.end.astimezone(tz))
    vevent.add("sequence", event.sequence)
    vevent.add("summary", event.subject)
    if event.location:
        vevent.add("location", event.location)
    vevent.add("class", "PRIVATE" if event.private else "PUBLIC")
    return vevent


def _invited(vevent: Event, event: CalendarEvent, method: str, organizer_name: str) -> None:
    """What an invitation's event holds beyond the feed's: body, status, organizer and attendees."""
    if event.body:
        vevent.add("description", event.body)
    vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    if event.organizer:
        vevent.add("organizer", _address(event.organizer, CN=organizer_name))
    for attendee in event.attendees:
        vevent.add("attendee", _address(attendee, **_ATTENDEE), encode=True)


def _address(address: str, **params: str) -> vCalAddress:
    value = vCalAddress(f"mailto:{address}")
    for key, param in params.items():
        value.params[key] = vText(param)
    return value


_ATTENDEE = {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}


@lru_cache(maxsize=4096)
def _person_line(name: str, address: str, cn: str | None) -> str:
    """An ORGANIZER (with ``cn``) or ATTENDEE line, unfolded, as icalendar writes it: the same in every email."""
    vevent = Event()
    vevent.add(name, _address(address, **({"CN": cn} if cn is not None else _ATTENDEE)), encode=True)
    return str(vevent.content_lines()[1])


@lru_cache(maxsize=64)
def _writes_tzid(key: str) -> bool:
    """Whether icalendar writes a time of this zone as ``;TZID=<key>:YYYYMMDDTHHMMSS`` (UTC it writes otherwise)."""
    vevent = Event()
    vevent.add("dtstart", datetime(2026, 1, 1, 10, tzinfo=ZoneInfo(key)))
    return _lines(vevent)[1] == f"DTSTART;TZID={key}:20260101T100000"


def _text(value: str) -> str:
    return str(vText(value).to_ical().decode())


def _event_lines(
    event: CalendarEvent, tz: ZoneInfo, stamp: datetime, method: str | None = None, organizer_name: str = ""
) -> tuple[str, ...]:
    """The VEVENT's folded lines as icalendar writes them (its canonical order, then A to Z), without building it.

    ``method`` None: the feed's event (no attendees, body, organizer, status or transparency).
    """
    if not _writes_tzid(str(tz.key)):
        vevent = _vevent(event, tz, stamp)
        if method is not None:
            _invited(vevent, event, method, organizer_name)
        return _lines(vevent)
    key = tz.key
    lines = [
        "BEGIN:VEVENT",
        f"SUMMARY:{_text(event.subject)}",
        f"DTSTART;TZID={key}:{event.start.astimezone(tz):%Y%m%dT%H%M%S}",
        f"DTEND;TZID={key}:{event.end.astimezone(tz):%Y%m%dT%H%M%S}",
        f"DTSTAMP:{stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        f"UID:{_text(event.uid)}",
        f"SEQUENCE:{int(event.sequence)}",
    ]
    if method is not None:
        lines += [_person_line("attendee", attendee, None) for attendee in event.attendees]
    lines.append("CLASS:PRIVATE" if event.private else "CLASS:PUBLIC")
    if method is not None and event.body:
        lines.append(f"DESCRIPTION:{_text(event.body)}")
    if event.location:
        lines.append(f"LOCATION:{_text(event.location)}")
    if method is not None:
        if event.organizer:
            lines.append(_person_line("organizer", event.organizer, organizer_name))
        lines += ["STATUS:CANCELLED" if method == "CANCEL" else "STATUS:CONFIRMED", "TRANSP:OPAQUE"]
    lines.append("END:VEVENT")
    return tuple(_fold(line) for line in lines)


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    return cal


def invitation(event: CalendarEvent, method: str, tz: ZoneInfo, organizer_name: str, stamp: datetime) -> bytes:
    """One event as an iTIP message: METHOD:REQUEST to invite or move, METHOD:CANCEL to cancel.

    The UID stays the same for the life of a booking and SEQUENCE rises with each change,
    which is how Outlook knows an update or cancellation belongs to the meeting it holds.
    ``stamp`` is DTSTAMP, the moment the message is made.
    """
    if method not in METHODS:
        raise ValueError(f"invitation method: got {method!r}; expected one of {', '.join(METHODS)}")
    lines = _event_lines(event, tz, stamp, method, organizer_name)
    return _ical(_invitation_head(method), _vtimezone_lines(*_years(tz, [event.start, event.end])), [lines])


def calendar_feed(events: Sequence[CalendarEvent], calendar_name: str, tz: ZoneInfo, stamp: datetime) -> bytes:
    """The whole strategy calendar as a subscribable feed (METHOD:PUBLISH).

    Subject, times and location only: the body names the family and the manager, and the
    feed may be read by anyone who has its address, so neither it nor the attendees go in.
    """
    items = list(events)
    cal = _calendar("PUBLISH")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", str(tz.key))
    timezone = _vtimezone_lines(*_years(tz, [e.start for e in items] + [e.end for e in items] or [stamp]))
    return _ical(_head(cal), timezone, [_event_lines(event, tz, stamp) for event in items])
