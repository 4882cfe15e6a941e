"""Booking a STANDARD request (domain.md §3): effective day, target day, slot, horizon, timescale."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.model import Interval
from bot.domain.rota import Schedule
from bot.domain.slots import (
    booking_length,
    choose_slot,
    effective_referral_day,
    first_free_start,
    meeting_days_from,
    next_slot_after,
    target_meeting_day,
)
from bot.domain.working_days import WorkingDays

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# The county document's defaults, written out so a change to the shipped config cannot move them.
COUNTY = Schedule(
    meeting_days=(0, 2, 4),
    window_start=time(10),
    window_end=time(11, 30),
    slot_minutes=15,
    complex_minutes=30,
    cutoff=time(16),
    horizon_meeting_days=10,
    timescale_working_days=3,
    complex_timescale_working_days=5,
    emergency_timescale_working_days=1,
    closure_days=frozenset(),
    bank_holidays_country="GB",
    bank_holidays_subdivision="ENG",
)
DAYS = WorkingDays()
WEDNESDAY = date(2026, 11, 25)


def at(text: str, tz: ZoneInfo = LONDON) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(start: str, end: str, tz: ZoneInfo = LONDON) -> Interval:
    return Interval(at(start, tz), at(end, tz))


def standard_bookings(day: str, count: int) -> list[Interval]:
    """``count`` back-to-back 15-minute bookings from 10:00."""
    first = at(f"{day} 10:00")
    return [Interval(first + timedelta(minutes=15 * i), first + timedelta(minutes=15 * (i + 1))) for i in range(count)]


def no_bookings(_day: date) -> list[Interval]:
    return []


def full_on(*days: str) -> Callable[[date], list[Interval]]:
    """Every minute of the window taken on these days, by one event made by hand."""
    taken = {d(day) for day in days}

    def busy(day: date) -> list[Interval]:
        return [span(f"{day} 09:30", f"{day} 12:00")] if day in taken else []

    return busy


# -- the worked examples of domain.md §3, on an empty calendar ------------------------------------

WORKED = [
    # received (London)        effective       slot start
    ("2026-11-23 09:00:00", "2026-11-23", "2026-11-25 10:00"),  # Mon → Wed
    ("2026-11-24 16:00:00", "2026-11-24", "2026-11-25 10:00"),  # Tue at the cut-off → Wed
    ("2026-11-24 16:00:01", "2026-11-25", "2026-11-27 10:00"),  # one second late → Fri
    ("2026-11-27 15:00:00", "2026-11-27", "2026-11-30 10:00"),  # Fri → Mon
    ("2026-11-28 11:00:00", "2026-11-30", "2026-12-02 10:00"),  # Sat → Mon effective → Wed
    ("2026-12-24 10:00:00", "2026-12-24", "2026-12-30 10:00"),  # 25th and 28th bank holidays
]


@pytest.mark.parametrize(("received", "effective", "slot"), WORKED)
def test_worked_examples(received: str, effective: str, slot: str) -> None:
    choice = choose_slot(at(received), False, no_bookings, COUNTY, DAYS, LONDON)
    assert choice is not None
    assert choice.effective_day == d(effective)
    assert choice.target_day == d(slot[:10])
    assert choice.start == at(slot)
    assert choice.end == at(slot) + timedelta(minutes=15)
    assert choice.start.tzinfo is LONDON and choice.end.tzinfo is LONDON
    assert choice.within_timescale


# -- §3.1 the effective referral day ------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "effective"),
    [
        (at("2026-11-24 00:00:00"), "2026-11-24"),
        (at("2026-11-24 16:00:00"), "2026-11-24"),
        # Fractions of a second are not "after 16:00:00" as a person reads a clock.
        (at("2026-11-24 16:00:00.999999"), "2026-11-24"),
        (at("2026-11-24 16:00:01"), "2026-11-25"),
        (at("2026-11-24 23:59:59"), "2026-11-25"),
        (at("2026-11-27 16:30"), "2026-11-30"),  # Friday after the cut-off → Monday
        (at("2026-11-28 11:00"), "2026-11-30"),  # Saturday
        (at("2026-11-29 23:00"), "2026-11-30"),  # Sunday
        (at("2026-12-24 16:30"), "2026-12-29"),  # Christmas Eve after the cut-off
        (at("2027-03-26 09:00"), "2027-03-30"),  # Good Friday
        (at("2027-05-03 09:00"), "2027-05-04"),  # Early May bank holiday
        # The cut-off is London time: 15:30 UTC is 16:30 in summer, 15:30 in winter.
        (datetime(2027, 6, 8, 15, 30, tzinfo=UTC), "2027-06-09"),
        (datetime(2026, 11, 24, 15, 30, tzinfo=UTC), "2026-11-24"),
        (datetime(2026, 11, 24, 16, 0, 1, tzinfo=UTC), "2026-11-25"),
        # 10:59 in New York is 15:59 in London (both on winter time).
        (at("2026-11-24 10:59", NEW_YORK), "2026-11-24"),
        (at("2026-11-24 11:01", NEW_YORK), "2026-11-25"),
        # 23:30 UTC on Monday is already Tuesday 00:30 in London, in summer.
        (datetime(2027, 6, 7, 23, 30, tzinfo=UTC), "2027-06-08"),
        # The Friday before the autumn change, 15:30 UTC = 16:30 BST: after the cut-off.
        (datetime(2026, 10, 23, 15, 30, tzinfo=UTC), "2026-10-26"),
    ],
)
def test_effective_referral_day(received: datetime, effective: str) -> None:
    assert effective_referral_day(received, COUNTY, DAYS, LONDON) == d(effective)


def test_a_closure_day_is_not_an_effective_day() -> None:
    closed = WorkingDays(frozenset({d("2026-11-24")}))
    assert effective_referral_day(at("2026-11-24 09:00"), COUNTY, closed, LONDON) == d("2026-11-25")


def test_a_naive_received_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        effective_referral_day(datetime(2026, 11, 24, 9, 0), COUNTY, DAYS, LONDON)


# -- §3.2 the target meeting day ------------------------------------------------------------------

# The county's table, as written: effective weekday → (weekday of the target, weeks ahead).
COUNTY_TABLE = {0: (2, 0), 1: (2, 0), 2: (4, 0), 3: (4, 0), 4: (0, 1)}


def county_table_target(effective: date) -> date:
    weekday, weeks = COUNTY_TABLE[effective.weekday()]
    monday = effective - timedelta(days=effective.weekday())
    return monday + timedelta(weeks=weeks, days=weekday)


def test_the_general_rule_is_the_county_table() -> None:
    # Every working day of a year whose tabled target is a working day: the general rule
    # ("the first meeting day strictly after") must give the table's answer.
    checked, wrong = 0, []
    for offset in range(365):
        effective = d("2026-11-02") + timedelta(days=offset)
        if not DAYS.is_working_day(effective):
            continue  # the table is keyed by working days only
        tabled = county_table_target(effective)
        if DAYS.is_working_day(tabled):
            checked += 1
            if target_meeting_day(effective, COUNTY, DAYS) != tabled:
                wrong.append(effective)
    assert wrong == []
    assert checked > 230


@pytest.mark.parametrize(
    ("days", "effective", "target"),
    [
        (DAYS, "2026-11-23", "2026-11-25"),  # Monday → Wednesday
        (DAYS, "2026-11-24", "2026-11-25"),  # Tuesday → Wednesday
        (DAYS, "2026-11-25", "2026-11-27"),  # Wednesday → Friday
        (DAYS, "2026-11-26", "2026-11-27"),  # Thursday → Friday
        (DAYS, "2026-11-27", "2026-11-30"),  # Friday → the following Monday
        (DAYS, "2026-12-24", "2026-12-30"),  # Thu → Fri 25th, Mon 28th holidays → Wed
        (DAYS, "2027-03-25", "2027-03-31"),  # Thu → Good Friday, Easter Monday → Wed
        (DAYS, "2027-03-24", "2027-03-31"),  # Wed → Good Friday → Mon is Easter Monday → Wed
        (DAYS, "2027-04-30", "2027-05-05"),  # Fri → Early May Monday → Wed
        (WorkingDays(frozenset({d("2026-11-25")})), "2026-11-23", "2026-11-27"),  # closure day
    ],
)
def test_target_meeting_day(days: WorkingDays, effective: str, target: str) -> None:
    assert target_meeting_day(d(effective), COUNTY, days) == d(target)


TUESDAY_THURSDAY = replace(COUNTY, meeting_days=(1, 3))
WEDNESDAY_ONLY = replace(COUNTY, meeting_days=(2,))


@pytest.mark.parametrize(
    ("schedule", "effective", "target"),
    [
        (TUESDAY_THURSDAY, "2026-11-23", "2026-11-24"),  # Mon → Tue, a day later is enough
        (TUESDAY_THURSDAY, "2026-11-24", "2026-11-26"),  # Tue → Thu
        (TUESDAY_THURSDAY, "2026-11-25", "2026-11-26"),  # Wed → Thu
        (TUESDAY_THURSDAY, "2026-11-26", "2026-12-01"),  # Thu → next Tue
        (TUESDAY_THURSDAY, "2026-11-27", "2026-12-01"),  # Fri → Tue
        (WEDNESDAY_ONLY, "2026-11-25", "2026-12-02"),  # Wed → the next Wednesday, never the same day
        (WEDNESDAY_ONLY, "2026-11-24", "2026-11-25"),
    ],
)
def test_target_meeting_day_for_other_meeting_days(schedule: Schedule, effective: str, target: str) -> None:
    assert target_meeting_day(d(effective), schedule, DAYS) == d(target)


def test_meeting_days_that_are_never_working_days_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="schedule.meeting_days"):
        target_meeting_day(d("2026-11-23"), replace(COUNTY, meeting_days=(5,)), DAYS)


@pytest.mark.parametrize(
    ("schedule", "target", "expected"),
    [
        (COUNTY, "2026-11-25", ["2026-11-25", "2026-11-27", "2026-11-30"]),
        # Fri 25, Mon 28 Dec and Fri 1 Jan are bank holidays.
        (COUNTY, "2026-12-23", ["2026-12-23", "2026-12-30", "2027-01-04"]),
        (COUNTY, "2026-11-24", ["2026-11-25", "2026-11-27", "2026-11-30"]),  # a Tuesday: starts Wednesday
        (replace(COUNTY, horizon_meeting_days=1), "2026-11-25", ["2026-11-25"]),
    ],
)
def test_meeting_days_from(schedule: Schedule, target: str, expected: list[str]) -> None:
    found = list(meeting_days_from(d(target), schedule, DAYS))
    assert found[: len(expected)] == [d(day) for day in expected]
    assert len(found) == schedule.horizon_meeting_days


# -- §3.3 the slot ---------------------------------------------------------------------------------------

W = "2026-11-25"
ALTERNATE = [span(f"{W} 10:00", f"{W} 10:15"), span(f"{W} 10:30", f"{W} 10:45"), span(f"{W} 11:00", f"{W} 11:15")]


@pytest.mark.parametrize(
    ("busy", "minutes", "expected"),
    [
        ([], 15, "10:00"),
        ([], 30, "10:00"),
        ([span(f"{W} 10:00", f"{W} 10:15")], 15, "10:15"),  # touching ends do not overlap
        ([span(f"{W} 09:00", f"{W} 10:00")], 15, "10:00"),  # before the window
        ([span(f"{W} 10:05", f"{W} 10:06")], 15, "10:15"),  # one minute, off the grid
        # A booking made by hand at 10:20–10:35: a 15-minute slot still fits at 10:00 …
        ([span(f"{W} 10:20", f"{W} 10:35")], 15, "10:00"),
        # … but with 10:00 taken, it blocks the 10:15 and 10:30 starts.
        ([span(f"{W} 10:00", f"{W} 10:15"), span(f"{W} 10:20", f"{W} 10:35")], 15, "10:45"),
        # 30 minutes: 10:00 runs into 10:20, 10:15 and 10:30 overlap it, 10:45 fits.
        ([span(f"{W} 10:20", f"{W} 10:35")], 30, "10:45"),
        # Complex around two standard bookings at 10:00 and 10:30: only 10:45 is two free slots.
        ([span(f"{W} 10:00", f"{W} 10:15"), span(f"{W} 10:30", f"{W} 10:45")], 30, "10:45"),
        # A complex case may end exactly at the end of the window.
        ([span(f"{W} 10:00", f"{W} 11:00")], 30, "11:00"),
        # 10:00–11:10 taken: a standard case fits at 11:15, a complex one not before 11:30.
        ([span(f"{W} 10:00", f"{W} 11:10")], 15, "11:15"),
        ([span(f"{W} 10:00", f"{W} 11:10")], 30, None),
        # Every other slot taken: no two adjacent free slots for a complex case.
        (ALTERNATE, 30, None),
        ([span(f"{W} 11:15", f"{W} 11:30")], 30, "10:00"),
        ([span(f"{W} 09:30", f"{W} 12:00")], 15, None),
        # Busy times in other zones: 10:00 UTC is 10:00 in London in November.
        ([span(f"{W} 10:00", f"{W} 10:15", ZoneInfo("UTC"))], 15, "10:15"),
        # 05:00–05:30 in New York is 10:00–10:30 in London.
        ([span(f"{W} 05:00", f"{W} 05:30", NEW_YORK)], 15, "10:30"),
    ],
)
def test_first_free_start(busy: list[Interval], minutes: int, expected: str | None) -> None:
    found = first_free_start(WEDNESDAY, minutes, busy, COUNTY, LONDON)
    assert found == (at(f"{W} {expected}") if expected else None)
    assert found is None or found.tzinfo is LONDON


def test_a_busy_time_in_utc_on_a_summer_day_is_read_as_london_time() -> None:
    # 09:00–09:15 UTC is 10:00–10:15 BST: 10:00 is taken.
    busy = [span("2027-06-09 09:00", "2027-06-09 09:15", ZoneInfo("UTC"))]
    assert first_free_start(d("2027-06-09"), 15, busy, COUNTY, LONDON) == at("2027-06-09 10:15")


def test_six_bookings_fill_a_day() -> None:
    assert first_free_start(WEDNESDAY, 15, standard_bookings(W, 5), COUNTY, LONDON) == at(f"{W} 11:15")
    assert first_free_start(WEDNESDAY, 15, standard_bookings(W, 6), COUNTY, LONDON) is None


@pytest.mark.parametrize("bad", [Interval(datetime(2026, 11, 25, 10), datetime(2026, 11, 25, 11))])
def test_naive_busy_times_are_refused(bad: Interval) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        first_free_start(WEDNESDAY, 15, [bad], COUNTY, LONDON)


def test_a_length_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="minutes=0"):
        first_free_start(WEDNESDAY, 0, [], COUNTY, LONDON)


@pytest.mark.parametrize(
    ("complex_case", "schedule", "minutes"),
    [
        (False, COUNTY, 15),
        (True, COUNTY, 30),
        (True, replace(COUNTY, slot_minutes=20, complex_minutes=60), 60),
        (False, replace(COUNTY, slot_minutes=20, complex_minutes=60), 20),
    ],
)
def test_booking_length(complex_case: bool, schedule: Schedule, minutes: int) -> None:
    assert booking_length(complex_case, schedule) == minutes


def test_a_full_day_overflows_to_the_next_meeting_day() -> None:
    six = standard_bookings(W, 6)
    asked: list[date] = []

    def busy(day: date) -> Sequence[Interval]:
        asked.append(day)
        return six if day == WEDNESDAY else []

    choice = choose_slot(at("2026-11-23 09:00"), False, busy, COUNTY, DAYS, LONDON)
    assert choice is not None
    assert choice.start == at("2026-11-27 10:00") and choice.end == at("2026-11-27 10:15")
    assert choice.target_day == WEDNESDAY  # the rule's target, even though the slot is later
    assert asked == [WEDNESDAY, d("2026-11-27")]  # meeting days only, in order
    # Three working days from Monday is Thursday: the Friday slot is booked and flagged.
    assert choice.deadline == d("2026-11-26") and not choice.within_timescale


def test_one_slot_left_is_taken() -> None:
    five = standard_bookings(W, 5)
    choice = choose_slot(
        at("2026-11-23 09:00"), False, lambda day: five if day == WEDNESDAY else [], COUNTY, DAYS, LONDON
    )
    assert choice is not None and choice.start == at(f"{W} 11:15") and choice.within_timescale


def test_a_complex_case_that_does_not_fit_moves_to_the_next_meeting_day() -> None:
    def busy(day: date) -> list[Interval]:
        return [span(f"{W} 10:00", f"{W} 11:10")] if day == WEDNESDAY else []

    standard = choose_slot(at("2026-11-23 09:00"), False, busy, COUNTY, DAYS, LONDON)
    complex_case = choose_slot(at("2026-11-23 09:00"), True, busy, COUNTY, DAYS, LONDON)
    assert standard is not None and standard.start == at(f"{W} 11:15")
    assert complex_case is not None
    assert (complex_case.start, complex_case.end) == (at("2026-11-27 10:00"), at("2026-11-27 10:30"))
    assert complex_case.within_timescale  # five working days for a complex case: Monday 30th


# -- both clock changes: 10:00 stays 10:00 London time ------------------------------------------------


@pytest.mark.parametrize(
    ("received", "slot", "offset_hours"),
    [
        # Autumn: clocks go back on Sunday 25 October 2026.
        ("2026-10-20 12:00", "2026-10-21 10:00", 1),  # Tue → Wed, still BST: 09:00 UTC
        ("2026-10-23 12:00", "2026-10-26 10:00", 0),  # Fri → Mon after the change: 10:00 UTC
        # Spring: clocks go forward on Sunday 28 March 2027. Friday 26 March is Good Friday,
        # so the effective day is Tuesday 30 and the slot Wednesday 31, in BST.
        ("2027-03-26 12:00", "2027-03-31 10:00", 1),
        ("2027-03-25 12:00", "2027-03-31 10:00", 1),  # Thu → over Easter → Wed
        ("2027-03-19 12:00", "2027-03-22 10:00", 0),  # the Friday a week before: Monday still GMT
        # Spring 2026: clocks go forward on Sunday 29 March; Friday → Monday 10:00 BST.
        ("2026-03-27 12:00", "2026-03-30 10:00", 1),
    ],
)
def test_ten_o_clock_stays_ten_o_clock_across_both_clock_changes(received: str, slot: str, offset_hours: int) -> None:
    choice = choose_slot(at(received), False, no_bookings, COUNTY, DAYS, LONDON)
    assert choice is not None
    assert choice.start == at(slot)
    assert choice.start.utcoffset() == timedelta(hours=offset_hours)
    assert choice.end.utcoffset() == timedelta(hours=offset_hours)
    assert choice.start.astimezone(UTC).hour == 10 - offset_hours
    assert choice.end - choice.start == timedelta(minutes=15)


def test_busy_times_in_utc_across_the_autumn_change() -> None:
    # Monday 26 October 2026 is GMT: a booking at 10:00 UTC is the 10:00 slot.
    monday = d("2026-10-26")
    busy = [span("2026-10-26 10:00", "2026-10-26 10:15", ZoneInfo("UTC"))]
    assert first_free_start(monday, 15, busy, COUNTY, LONDON) == at("2026-10-26 10:15")
    # The Wednesday before is BST: 10:00 UTC is 11:00 there, so 10:00 is free.
    busy = [span("2026-10-21 10:00", "2026-10-21 10:15", ZoneInfo("UTC"))]
    assert first_free_start(d("2026-10-21"), 15, busy, COUNTY, LONDON) == at("2026-10-21 10:00")


# -- §3.3 the horizon and §3.4 the timescale check -------------------------------------------------------


def test_past_the_horizon_the_case_goes_to_a_person() -> None:
    def always_full(day: date) -> list[Interval]:
        return [span(f"{day} 09:00", f"{day} 12:00")]

    assert choose_slot(at("2026-11-23 09:00"), False, always_full, COUNTY, DAYS, LONDON) is None
    assert choose_slot(at("2026-11-23 09:00"), True, always_full, COUNTY, DAYS, LONDON) is None


@pytest.mark.parametrize(
    ("horizon", "expected"),
    [
        (3, None),  # Wed 25, Fri 27, Mon 30 are full: three meeting days searched
        (4, "2026-12-02 10:00"),  # the fourth, Wed 2 Dec, is free
    ],
)
def test_the_horizon_counts_meeting_days(horizon: int, expected: str | None) -> None:
    busy = full_on("2026-11-25", "2026-11-27", "2026-11-30")
    schedule = replace(COUNTY, horizon_meeting_days=horizon)
    choice = choose_slot(at("2026-11-23 09:00"), False, busy, schedule, DAYS, LONDON)
    assert (choice.start if choice else None) == (at(expected) if expected else None)


@pytest.mark.parametrize(
    ("received", "complex_case", "full", "slot", "deadline", "within"),
    [
        # Standard: 3 working days from Monday 23 November is Thursday 26.
        ("2026-11-23 09:00", False, (), "2026-11-25 10:00", "2026-11-26", True),
        ("2026-11-23 09:00", False, ("2026-11-25",), "2026-11-27 10:00", "2026-11-26", False),
        # Complex: 5 working days, Monday 30.
        ("2026-11-23 09:00", True, ("2026-11-25",), "2026-11-27 10:00", "2026-11-30", True),
        ("2026-11-23 09:00", True, ("2026-11-25", "2026-11-27"), "2026-11-30 10:00", "2026-11-30", True),
        ("2026-11-23 09:00", True, ("2026-11-25", "2026-11-27", "2026-11-30"), "2026-12-02 10:00", "2026-11-30", False),
        # Effective Wednesday 25: deadline Monday 30; a slot on the deadline day is in time.
        ("2026-11-24 16:00:01", False, ("2026-11-27",), "2026-11-30 10:00", "2026-11-30", True),
        ("2026-11-24 16:00:01", False, ("2026-11-27", "2026-11-30"), "2026-12-02 10:00", "2026-11-30", False),
        # Over Christmas: effective Thursday 24, deadline Thursday 31 (29th, 30th, 31st).
        ("2026-12-24 10:00", False, (), "2026-12-30 10:00", "2026-12-31", True),
        ("2026-12-24 10:00", False, ("2026-12-30",), "2027-01-04 10:00", "2026-12-31", False),
        # Over Easter: effective Thursday 25 March, deadline Thursday 1 April.
        ("2027-03-25 09:00", False, (), "2027-03-31 10:00", "2027-04-01", True),
    ],
)
def test_the_timescale_check(
    received: str, complex_case: bool, full: tuple[str, ...], slot: str, deadline: str, within: bool
) -> None:
    choice = choose_slot(at(received), complex_case, full_on(*full), COUNTY, DAYS, LONDON)
    assert choice is not None
    assert choice.start == at(slot)
    assert choice.end - choice.start == timedelta(minutes=30 if complex_case else 15)
    assert choice.deadline == d(deadline)
    assert choice.within_timescale is within


def test_a_configured_closure_day_moves_the_slot_and_the_deadline() -> None:
    closed = WorkingDays(frozenset({WEDNESDAY}))
    choice = choose_slot(at("2026-11-23 09:00"), False, no_bookings, COUNTY, closed, LONDON)
    assert choice is not None
    assert choice.target_day == d("2026-11-27") and choice.start == at("2026-11-27 10:00")
    assert choice.deadline == d("2026-11-27") and choice.within_timescale  # 24, 26, 27


@pytest.mark.parametrize(
    ("not_before", "slot"),
    [
        (None, "2026-11-25 10:00"),
        (at("2026-11-24 12:00"), "2026-11-25 10:00"),  # handled the next day: nothing changes
        # Handled late, on the target day itself: not the same day at a few minutes' notice.
        (at("2026-11-25 09:00"), "2026-11-27 10:00"),
        (at("2026-11-25 10:20"), "2026-11-27 10:00"),
        (at("2026-11-28 08:00"), "2026-11-30 10:00"),
    ],
)
def test_a_request_handled_late_is_not_booked_in_the_past(not_before: datetime | None, slot: str) -> None:
    choice = choose_slot(at("2026-11-23 09:00"), False, no_bookings, COUNTY, DAYS, LONDON, not_before=not_before)
    assert choice is not None and choice.start == at(slot)
    assert choice.target_day == WEDNESDAY


# -- §6 RESCHEDULE and COMPLEX -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "minutes", "same_start_allowed", "busy", "expected"),
    [
        ("2026-11-25 10:00", 15, False, [], "2026-11-25 10:15"),
        ("2026-11-25 10:00", 30, True, [], "2026-11-25 10:00"),
        ("2026-11-25 10:00", 30, True, [span(f"{W} 10:15", f"{W} 10:30")], "2026-11-25 10:30"),
        ("2026-11-25 11:15", 15, False, [], "2026-11-27 10:00"),
    ],
)
def test_next_slot_after(
    current: str, minutes: int, same_start_allowed: bool, busy: list[Interval], expected: str
) -> None:
    found = next_slot_after(
        at(current), minutes, lambda day: busy if day == WEDNESDAY else [], COUNTY, DAYS, LONDON, same_start_allowed
    )
    assert found == at(expected)
