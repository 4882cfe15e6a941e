"""Issue 18: the calendar's busy time, read once for the search window, handed out day by day (compared in UTC).

Each day's share must be exactly the intervals that overlap that local day, in the calendar's
order: events over midnight, over several days, ending at midnight, of no length, made by hand
in another zone, and on the days the clocks change.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.model import Interval
from bot.service.booking import day_by_day

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def overlapping(intervals: list[Interval], day: date) -> list[Interval]:
    """The plain definition: every interval that starts before the day ends and ends after it starts."""
    day_start = datetime.combine(day, time(0), tzinfo=LONDON)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON)
    return [i for i in intervals if i.start < day_end and i.end > day_start]


def intervals(seed: int) -> list[Interval]:
    pick = random.Random(seed)
    # Around the clocks going back (Sun 25 Oct 2026) and forward (Sun 28 Mar 2027).
    first = pick.choice([datetime(2026, 10, 20, tzinfo=UTC), datetime(2027, 3, 24, tzinfo=UTC)])
    made = []
    for _ in range(60):
        start = first + timedelta(minutes=15 * pick.randrange(0, 4 * 24 * 10))
        length = pick.choice([0, 15, 30, 60 * 8, 60 * 24, 60 * 24 * 3 + 15])
        zone = pick.choice([UTC, LONDON, NEW_YORK])
        made.append(Interval(start.astimezone(zone), (start + timedelta(minutes=length)).astimezone(zone)))
    made.append(Interval(datetime(2026, 10, 24, 23, 0, tzinfo=LONDON), datetime(2026, 10, 25, 0, 0, tzinfo=LONDON)))
    return made


def test_each_day_gets_exactly_the_intervals_that_overlap_it() -> None:
    for seed in range(20):
        busy = intervals(seed)
        on = day_by_day(busy, LONDON)
        start = min(i.start for i in busy).astimezone(LONDON).date() - timedelta(days=1)
        for n in range(16):
            day = start + timedelta(days=n)
            assert on(day) == overlapping(busy, day), (seed, day)
