"""Working days (domain.md "Words"): weekdays, England and Wales bank holidays, closure days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta
from typing import Any

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.rota import Schedule
from bot.domain.working_days import WorkingDays

ENGLAND = WorkingDays()
SCHEDULE = Schedule(
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


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-11-23", True),  # Monday
        ("2026-11-27", True),  # Friday
        ("2026-11-28", False),  # Saturday
        ("2026-11-29", False),  # Sunday
        ("2026-11-30", True),  # St Andrew's Day: a holiday in Scotland, not in England
        ("2026-12-24", True),  # Christmas Eve is a working day
        ("2026-12-25", False),  # Christmas Day, a Friday
        ("2026-12-28", False),  # Boxing Day falls on a Saturday: substitute Monday
        ("2026-12-29", True),
        ("2027-01-01", False),  # New Year's Day
        ("2027-03-17", True),  # St Patrick's Day: Northern Ireland only
        ("2027-03-25", True),  # Maundy Thursday
        ("2027-03-26", False),  # Good Friday
        ("2027-03-29", False),  # Easter Monday
        ("2027-03-30", True),
        ("2026-05-04", False),  # Early May bank holiday 2026
        ("2027-05-03", False),  # Early May bank holiday 2027
        ("2027-05-31", False),  # Spring bank holiday
        ("2027-08-02", True),  # Scotland's summer holiday is not England's
        ("2027-08-30", False),  # Summer bank holiday, England and Wales
    ],
)
def test_working_days_follow_england_and_wales(day: str, working: bool) -> None:
    assert ENGLAND.is_working_day(d(day)) is working


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2027-08-02", False),  # Scotland's summer holiday
        ("2027-08-30", True),  # England's is a working day there
        ("2026-11-30", False),  # St Andrew's Day
    ],
)
def test_country_and_subdivision_are_configurable(day: str, working: bool) -> None:
    assert WorkingDays(country="GB", subdivision="SCT").is_working_day(d(day)) is working


CLOSED = WorkingDays(frozenset({d("2026-11-25"), d("2026-12-24")}))


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-11-24", True),
        ("2026-11-25", False),  # closure day, a Wednesday
        ("2026-11-26", True),
        ("2026-12-24", False),  # closure day, Christmas Eve
    ],
)
def test_a_closure_day_is_not_a_working_day(day: str, working: bool) -> None:
    assert CLOSED.is_working_day(d(day)) is working
    assert ENGLAND.is_working_day(d(day))


@pytest.mark.parametrize(
    ("days", "day", "following"),
    [
        (ENGLAND, "2026-11-23", "2026-11-24"),  # a working day: strictly after, not itself
        (ENGLAND, "2026-11-27", "2026-11-30"),  # Friday → Monday
        (ENGLAND, "2026-11-28", "2026-11-30"),  # Saturday → Monday
        (ENGLAND, "2026-12-24", "2026-12-29"),  # over Christmas and the substitute Boxing Day
        (ENGLAND, "2027-03-25", "2027-03-30"),  # over Easter
        (ENGLAND, "2027-04-30", "2027-05-04"),  # over the Early May bank holiday
        (CLOSED, "2026-11-24", "2026-11-26"),  # over a closure day
        (CLOSED, "2026-12-23", "2026-12-29"),  # closure day, then Christmas
    ],
)
def test_next_working_day(days: WorkingDays, day: str, following: str) -> None:
    assert days.next_working_day(d(day)) == d(following)


@pytest.mark.parametrize(
    ("days", "day", "n", "expected"),
    [
        (ENGLAND, "2026-11-23", 0, "2026-11-23"),
        (ENGLAND, "2026-11-28", 0, "2026-11-28"),  # 0 gives the day itself, even a Saturday
        (ENGLAND, "2026-11-23", 1, "2026-11-24"),
        (ENGLAND, "2026-11-23", 3, "2026-11-26"),  # the standard timescale from a Monday
        (ENGLAND, "2026-11-23", 5, "2026-11-30"),  # the complex timescale from a Monday
        (ENGLAND, "2026-12-24", 1, "2026-12-29"),
        (ENGLAND, "2026-12-24", 3, "2026-12-31"),
        (ENGLAND, "2027-03-25", 1, "2027-03-30"),
        (ENGLAND, "2027-03-25", 3, "2027-04-01"),
        (CLOSED, "2026-11-23", 3, "2026-11-27"),
    ],
)
def test_add_working_days(days: WorkingDays, day: str, n: int, expected: str) -> None:
    assert days.add_working_days(d(day), n) == d(expected)


def test_adding_a_negative_number_of_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="n=-1"):
        ENGLAND.add_working_days(d("2026-11-23"), -1)


@pytest.mark.parametrize(
    ("days", "start", "end", "count"),
    [
        (ENGLAND, "2026-11-23", "2026-11-23", 0),
        (ENGLAND, "2026-11-23", "2026-11-24", 1),  # (start, end]: the end counts
        (ENGLAND, "2026-11-22", "2026-11-23", 1),
        (ENGLAND, "2026-11-23", "2026-11-30", 5),
        (ENGLAND, "2026-11-30", "2026-11-23", 0),  # backwards
        (ENGLAND, "2026-12-24", "2026-12-31", 3),
        (ENGLAND, "2027-03-25", "2027-03-31", 2),
        (CLOSED, "2026-11-23", "2026-11-30", 4),
    ],
)
def test_working_days_after(days: WorkingDays, start: str, end: str, count: int) -> None:
    assert days.working_days_after(d(start), d(end)) == count


@settings(deadline=None)  # no per-example time limit: a year's bank holidays computed on a busy machine is slow
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    n=st.integers(min_value=0, max_value=40),
)
def test_counting_undoes_adding(start: date, n: int) -> None:
    later = CLOSED.add_working_days(start, n)
    assert CLOSED.working_days_after(start, later) == n
    assert n == 0 or CLOSED.is_working_day(later)


def test_from_schedule_uses_its_closure_days_and_region() -> None:
    days = WorkingDays.from_schedule(replace(SCHEDULE, closure_days=frozenset({d("2026-11-25")})))
    assert not days.is_working_day(d("2026-11-25"))
    scottish = WorkingDays.from_schedule(replace(SCHEDULE, bank_holidays_subdivision="SCT"))
    assert not scottish.is_working_day(d("2027-08-02"))


@pytest.mark.parametrize(("country", "subdivision"), [("XX", "ENG"), ("GB", "XXX")])
def test_an_unknown_region_fails_at_start_up_naming_the_keys(country: str, subdivision: str) -> None:
    with pytest.raises(ValueError, match="bank holidays"):
        WorkingDays(country=country, subdivision=subdivision)
    schedule = replace(SCHEDULE, bank_holidays_country=country, bank_holidays_subdivision=subdivision)
    with pytest.raises(ValueError, match="schedule.bank_holidays_country"):
        WorkingDays.from_schedule(schedule)


def test_bank_holidays_are_computed_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    # On the hot path (300 requests/s): the holidays table must not be rebuilt per question.
    calls: list[Any] = []
    real = holidays.country_holidays

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counting)
    days = WorkingDays()
    start = d("2026-11-02")
    for offset in range(120):  # into 2027
        days.is_working_day(start + timedelta(days=offset))
        days.next_working_day(start + timedelta(days=offset))
    assert sorted(year for year in calls if year is not None) == [2026, 2027]
