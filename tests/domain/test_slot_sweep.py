"""Issue 18: the first free start found in one sweep is the one the plain definition gives.

The plain definition (domain.md §3.3): the earliest start on the slot grid whose whole length
fits the window and overlaps nothing busy. Busy intervals at random, on and off the grid, of no
length, over the window's edges, in other zones, on the days the clocks change.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.model import Interval
from bot.domain.slots import first_free_start
from tests.domain.test_slots import COUNTY, LONDON

NEW_YORK = ZoneInfo("America/New_York")


def plain(day: date, minutes: int, busy: list[Interval], window_end: time) -> datetime | None:
    start = datetime.combine(day, COUNTY.window_start, tzinfo=LONDON).astimezone(UTC)
    last = datetime.combine(day, window_end, tzinfo=LONDON).astimezone(UTC)
    while start + timedelta(minutes=minutes) <= last:
        end = start + timedelta(minutes=minutes)
        if not any(b.start < end and start < b.end for b in busy):
            return start.astimezone(LONDON)
        start += timedelta(minutes=COUNTY.slot_minutes)
    return None


def test_the_first_free_start_is_the_earliest_start_that_overlaps_nothing() -> None:
    pick = random.Random(18)
    found = 0
    for _ in range(3000):
        day = pick.choice([date(2026, 11, 25), date(2026, 10, 25), date(2027, 3, 28), date(2026, 3, 29)])
        window_end = pick.choice([time(11, 30), time(16, 0)])
        schedule = replace(COUNTY, window_end=window_end)
        busy = []
        for _ in range(pick.randrange(0, 12)):
            start = datetime.combine(day, time(9, 30), tzinfo=LONDON) + timedelta(minutes=5 * pick.randrange(0, 90))
            length = timedelta(minutes=pick.choice([0, 5, 15, 15, 30, 45, 120]))
            zone = pick.choice([UTC, LONDON, NEW_YORK])
            busy.append(Interval(start.astimezone(zone), (start + length).astimezone(zone)))
        minutes = pick.choice([15, 30])
        expected = plain(day, minutes, busy, window_end)
        assert first_free_start(day, minutes, busy, schedule, LONDON) == expected, (day, minutes, busy)
        found += expected is not None
    assert 300 < found < 2900  # both answers were met many times
