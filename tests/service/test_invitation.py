"""The iCalendar Outlook receives and the feed people subscribe to: times, identity, privacy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component, Timezone

from bot.domain.model import CalendarEvent
from bot.mail.invitation import PRODID, calendar_feed, invitation, vtimezone

LONDON = ZoneInfo("Europe/London")
STAMP = datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


EVENT = CalendarEvent(
    uid="SD000001@police.example",
    subject="Strategy discussion N146782",
    start=london("2026-11-25 10:00"),
    end=london("2026-11-25 10:15"),
    body="Bond children / Team Manager: Alex Morgan (01632 960123)\nConference call: 0203 463 9741",
    location="Conference call: 0203 463 9741",
    attendees=("alex.morgan@council.example", "nurse@nhs.example"),
    organizer="referrals@police.example",
    sequence=2,
)


def parse(data: bytes) -> tuple[Calendar, Component]:
    cal = Calendar.from_ical(data)
    [vevent] = cal.walk("VEVENT")
    return cal, vevent


def on(day: str, event: CalendarEvent = EVENT) -> CalendarEvent:
    return replace(event, start=london(f"{day} 10:00"), end=london(f"{day} 10:15"))


@pytest.mark.parametrize(("day", "utc_hour"), [("2026-11-25", 10), ("2027-04-07", 9)])
def test_the_invitation_is_at_ten_o_clock_london_time_either_side_of_a_clock_change(day: str, utc_hour: int) -> None:
    data = invitation(on(day), "REQUEST", LONDON, "PVP Referral Unit", STAMP)
    cal, vevent = parse(data)
    compact = day.replace("-", "")
    assert f"DTSTART;TZID=Europe/London:{compact}T100000".encode() in data
    assert f"DTEND;TZID=Europe/London:{compact}T101500".encode() in data
    assert vevent["DTSTART"].params["TZID"] == "Europe/London"
    assert vevent.decoded("DTSTART").astimezone(UTC).hour == utc_hour
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/London"
    assert sorted(str(c.name) for c in tz.subcomponents) == ["DAYLIGHT", "STANDARD"]


def test_the_vtimezone_on_its_own_gives_gmt_in_winter_bst_in_summer_and_the_exact_changes() -> None:
    # A client without the tz database reads only this: it must carry the rules itself.
    data = invitation(on("2027-04-07"), "REQUEST", LONDON, "PVP Referral Unit", STAMP)
    cal, _ = parse(data)
    [component] = cal.walk("VTIMEZONE")
    assert isinstance(component, Timezone)
    own = component.to_tz(lookup_tzid=False)
    assert datetime(2026, 11, 25, 10, tzinfo=own).utcoffset() == timedelta(0)
    assert datetime(2027, 4, 7, 10, tzinfo=own).utcoffset() == timedelta(hours=1)
    spring = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)  # clocks go forward at 01:00 GMT
    autumn = datetime(2027, 10, 31, 1, 0, tzinfo=UTC)  # and back at 02:00 BST
    for change in (spring, autumn):
        for moment in (change - timedelta(seconds=1), change):
            assert moment.astimezone(own).utcoffset() == moment.astimezone(LONDON).utcoffset()


def test_the_vtimezone_is_written_as_yearly_rules_as_outlook_expects() -> None:
    data = invitation(EVENT, "REQUEST", LONDON, "PVP Referral Unit", STAMP)
    assert b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in data
    assert b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in data
    assert b"RDATE" not in data  # Outlook misreads RDATE lists and shifts meetings by an hour
    cal, _ = parse(data)
    [component] = cal.walk("VTIMEZONE")
    by_name = {c.name: c for c in component.subcomponents}
    assert str(by_name["DAYLIGHT"]["TZNAME"]) == "BST" and str(by_name["STANDARD"]["TZNAME"]) == "GMT"
    # The onset is local time in the offset in force before the change (RFC 5545 §3.6.5).
    assert by_name["DAYLIGHT"].decoded("DTSTART").time().hour == 1
    assert by_name["STANDARD"].decoded("DTSTART").time().hour == 2


@pytest.mark.parametrize("key", ["America/New_York", "Australia/Sydney", "Asia/Tokyo", "UTC"])
def test_other_zones_agree_with_the_tz_database_over_the_years_covered(key: str) -> None:
    zone = ZoneInfo(key)
    own = vtimezone(zone, [datetime(2026, 6, 1, tzinfo=zone)]).to_tz(lookup_tzid=False)
    # Built for a moment in 2026, it must hold from the start of 2025 to the end of 2027.
    step, moment, wrong = timedelta(hours=6), datetime(2025, 1, 1, tzinfo=UTC), []
    while moment < datetime(2028, 1, 1, tzinfo=UTC):
        # Every six hours, and every minute of the six hours in which the clocks change.
        changes = moment.astimezone(zone).utcoffset() != (moment + step).astimezone(zone).utcoffset()
        for minute in range(360 if changes else 1):
            instant = moment + timedelta(minutes=minute)
            if instant.astimezone(own).utcoffset() != instant.astimezone(zone).utcoffset():
                wrong.append(instant)
        moment += step
    assert wrong == []


def test_the_invitation_identifies_the_booking_and_its_people() -> None:
    data = invitation(EVENT, "REQUEST", LONDON, "PVP Referral Unit", STAMP)
    cal, vevent = parse(data)
    assert str(cal["PRODID"]) == PRODID == "-//strategy-bot//EN"
    assert str(cal["VERSION"]) == "2.0" and str(cal["METHOD"]) == "REQUEST"
    assert str(vevent["UID"]) == "SD000001@police.example" and vevent.decoded("SEQUENCE") == 2
    assert vevent.decoded("DTSTAMP") == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert b"DTSTAMP:20261123T090000Z" in data
    assert str(vevent["SUMMARY"]) == "Strategy discussion N146782"
    assert str(vevent["DESCRIPTION"]) == EVENT.body
    assert str(vevent["LOCATION"]) == "Conference call: 0203 463 9741"
    assert str(vevent["CLASS"]) == "PRIVATE" and str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["ORGANIZER"]) == "mailto:referrals@police.example"
    assert vevent["ORGANIZER"].params["CN"] == "PVP Referral Unit"
    attendees = vevent.get("ATTENDEE")
    assert [str(a) for a in attendees] == ["mailto:alex.morgan@council.example", "mailto:nurse@nhs.example"]
    for attendee in attendees:
        assert {k: str(v) for k, v in attendee.params.items()} == {
            "CUTYPE": "INDIVIDUAL",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        }


def test_several_children_share_one_summary() -> None:
    event = replace(EVENT, subject="Strategy discussion N146782, N146783")
    _, vevent = parse(invitation(event, "REQUEST", LONDON, "PVP Referral Unit", STAMP))
    assert str(vevent["SUMMARY"]) == "Strategy discussion N146782, N146783"


def test_a_public_event_says_so() -> None:
    _, vevent = parse(invitation(replace(EVENT, private=False), "REQUEST", LONDON, "PVP", STAMP))
    assert str(vevent["CLASS"]) == "PUBLIC"


def test_a_cancellation_keeps_the_uid_and_says_cancelled() -> None:
    cancelled = replace(EVENT, sequence=3)
    cal, vevent = parse(invitation(cancelled, "CANCEL", LONDON, "PVP Referral Unit", STAMP))
    assert str(cal["METHOD"]) == "CANCEL" and str(vevent["STATUS"]) == "CANCELLED"
    assert str(vevent["UID"]) == EVENT.uid and vevent.decoded("SEQUENCE") == 3
    assert len(vevent.get("ATTENDEE")) == 2  # Outlook removes the meeting for the attendees it names


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="PUBLISH"):
        invitation(EVENT, "PUBLISH", LONDON, "PVP", STAMP)


def test_the_invitation_is_well_formed_icalendar() -> None:
    data = invitation(EVENT, "REQUEST", LONDON, "PVP Referral Unit", STAMP)
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))


def test_the_feed_names_the_calendar_and_holds_every_event_without_personal_details() -> None:
    events = [
        on("2026-11-25"),
        replace(on("2027-04-07"), uid="SD000002@police.example", subject="Strategy discussion N200001"),
    ]
    data = calendar_feed(events, "Strategy Meeting", LONDON, STAMP)
    cal = Calendar.from_ical(data)
    assert str(cal["X-WR-CALNAME"]) == "Strategy Meeting" and str(cal["X-WR-TIMEZONE"]) == "Europe/London"
    assert str(cal["METHOD"]) == "PUBLISH"
    assert len(cal.walk("VTIMEZONE")) == 1
    vevents = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in vevents] == ["SD000001@police.example", "SD000002@police.example"]
    assert [str(e["SUMMARY"]) for e in vevents] == ["Strategy discussion N146782", "Strategy discussion N200001"]
    assert [e.decoded("DTSTART") for e in vevents] == [london("2026-11-25 10:00"), london("2027-04-07 10:00")]
    for private in (b"ATTENDEE", b"Bond", b"Alex Morgan", b"01632"):
        assert private not in data


def test_an_empty_feed_is_still_a_calendar() -> None:
    cal = Calendar.from_ical(calendar_feed([], "Strategy Meeting", LONDON, STAMP))
    assert cal.walk("VEVENT") == [] and len(cal.walk("VTIMEZONE")) == 1
