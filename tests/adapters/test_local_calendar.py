"""Contract of the StrategyCalendar port, run on the local calendar in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.adapters.local_calendar import LocalCalendar
from bot.adapters.sql_store import SqlStore
from bot.domain.model import CalendarEvent, Interval
from bot.errors import SlotTaken
from tests.support.port_contracts import CalendarContract
from tests.support.requests_mail import london


@pytest.fixture
def calendar(tmp_path: Path) -> Iterator[LocalCalendar]:
    store = SqlStore(f"sqlite:///{tmp_path / 'cal.sqlite3'}")
    store.migrate()
    yield LocalCalendar(store)
    store.dispose()


def event(uid: str, start: str, end: str, subject: str = "Strategy discussion N146782") -> CalendarEvent:
    return CalendarEvent(
        uid=uid, subject=subject, start=london(start), end=london(end), attendees=("tm@council.example",)
    )


def test_book_then_busy_and_events(calendar: LocalCalendar) -> None:
    calendar.book(event("a", "2026-11-25 10:00", "2026-11-25 10:15"))
    calendar.book(event("b", "2026-11-25 10:15", "2026-11-25 10:45"))  # touching is not overlapping
    busy = calendar.busy(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert busy == [
        Interval(london("2026-11-25 10:00"), london("2026-11-25 10:15")),
        Interval(london("2026-11-25 10:15"), london("2026-11-25 10:45")),
    ]
    assert calendar.busy(london("2026-11-26 00:00"), london("2026-11-27 00:00")) == []
    [first, _] = calendar.events(london("2026-11-25 00:00"), london("2026-11-26 00:00"))
    assert first.attendees == ("tm@council.example",) and first.subject == "Strategy discussion N146782"


def test_overlaps_are_refused_and_a_retry_of_the_same_booking_is_a_no_op(calendar: LocalCalendar) -> None:
    calendar.book(event("a", "2026-11-25 10:00", "2026-11-25 10:30"))
    with pytest.raises(SlotTaken):
        calendar.book(event("b", "2026-11-25 10:15", "2026-11-25 10:30"))
    calendar.book(event("a", "2026-11-25 10:00", "2026-11-25 10:30"))
    assert len(calendar.all_events()) == 1


def test_move_and_cancel_free_the_old_time(calendar: LocalCalendar) -> None:
    calendar.book(event("a", "2026-11-25 10:00", "2026-11-25 10:15"))
    calendar.book(event("b", "2026-11-25 10:30", "2026-11-25 10:45"))
    with pytest.raises(SlotTaken):
        calendar.move(event("a", "2026-11-25 10:30", "2026-11-25 10:45"))
    calendar.move(event("a", "2026-11-25 10:15", "2026-11-25 10:30"))
    calendar.cancel("b")
    assert [(e.uid, e.start) for e in calendar.all_events()] == [("a", london("2026-11-25 10:15"))]


def test_a_rolled_back_unit_of_work_leaves_no_booking(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'cal.sqlite3'}")
    store.migrate()
    calendar = LocalCalendar(store)
    with pytest.raises(RuntimeError), store.transaction():
        calendar.book(event("a", "2026-11-25 10:00", "2026-11-25 10:15"))
        raise RuntimeError("the confirmation could not be rendered")
    assert calendar.all_events() == []
    store.dispose()


def test_published_feed_holds_every_event_at_local_times(calendar: LocalCalendar, tmp_path: Path) -> None:
    calendar.book(event("winter", "2026-11-25 10:00", "2026-11-25 10:15"))
    calendar.book(event("summer", "2027-04-07 10:00", "2027-04-07 10:15", "Strategy discussion N146783"))
    path = tmp_path / "feed" / "strategy.ics"
    calendar.publish(path, "Strategy Meeting", ZoneInfo("Europe/London"), london("2026-11-23 09:00"))
    feed = Calendar.from_ical(path.read_bytes())
    starts = {str(e["SUMMARY"]): e.decoded("DTSTART") for e in feed.walk("VEVENT")}
    assert starts == {
        "Strategy discussion N146782": london("2026-11-25 10:00"),
        "Strategy discussion N146783": london("2027-04-07 10:00"),
    }
    assert str(feed["X-WR-CALNAME"]) == "Strategy Meeting"


class TestLocalCalendarContract(CalendarContract):
    """The port's contract; ``calendar`` is the module's fixture."""
