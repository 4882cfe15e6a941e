"""The URGENT call-back clock (domain.md §4.1, §4.3): when t0 is, and when the call is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.urgent_clock import callback_due, clock_start

LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def london(text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON, fold=fold)


@pytest.mark.parametrize(
    ("header", "received", "max_age_hours", "expected"),
    [
        # Mail took 18 minutes to reach the unit: the clock starts when it was sent.
        (utc("2026-11-23 14:02"), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:02")),
        (utc("2026-11-23 14:20"), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),  # same instant
        # A sender's clock ahead of ours, even by a second: received time.
        (utc("2026-11-23 14:20:01"), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),
        (utc("2026-11-23 14:30"), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),
        # Exactly 24 hours old is still plausible; a second more is not.
        (utc("2026-11-22 14:20"), utc("2026-11-23 14:20"), 24, utc("2026-11-22 14:20")),
        (utc("2026-11-22 14:19:59"), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),
        (utc("2026-11-21 09:00"), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),
        # The limit is configurable.
        (utc("2026-11-23 13:00"), utc("2026-11-23 14:20"), 1, utc("2026-11-23 14:20")),
        (utc("2026-11-23 13:30"), utc("2026-11-23 14:20"), 1, utc("2026-11-23 13:30")),
        # No usable header.
        (None, utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),
        (datetime(2026, 11, 23, 14, 2), utc("2026-11-23 14:20"), 24, utc("2026-11-23 14:20")),  # naive
        # Zones differ: 15:02 +0100 is 14:02 UTC.
        (
            datetime(2026, 11, 23, 15, 2, tzinfo=timezone(timedelta(hours=1))),
            utc("2026-11-23 14:20"),
            24,
            utc("2026-11-23 14:02"),
        ),
        # Received in London time in summer: 15:20 BST is 14:20 UTC.
        (utc("2027-06-08 14:02"), london("2027-06-08 15:20"), 24, utc("2027-06-08 14:02")),
        # The autumn change: 01:30 BST (00:30 UTC) was sent before 01:10 GMT (01:10 UTC),
        # although its wall-clock reading is later.
        (london("2026-10-25 01:30", fold=0), london("2026-10-25 01:10", fold=1), 24, utc("2026-10-25 00:30")),
        # And 01:30 GMT (01:30 UTC) is after 01:10 GMT: implausible.
        (london("2026-10-25 01:30", fold=1), london("2026-10-25 01:10", fold=1), 24, utc("2026-10-25 01:10")),
    ],
)
def test_clock_start(header: datetime | None, received: datetime, max_age_hours: int, expected: datetime) -> None:
    t0 = clock_start(header, received, max_age_hours)
    assert t0 == expected
    assert t0.tzinfo is UTC


def test_a_naive_received_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock_start(None, datetime(2026, 11, 23, 14, 20), 24)


@pytest.mark.parametrize(
    ("t0", "minutes", "due"),
    [
        (utc("2026-11-23 14:02"), 60, utc("2026-11-23 15:02")),
        (utc("2026-11-23 14:02"), 90, utc("2026-11-23 15:32")),
        (utc("2026-11-23 23:30"), 60, utc("2026-11-24 00:30")),  # any hour, over midnight
        # Real minutes across the autumn change: 01:30 BST plus an hour is 01:30 GMT.
        (london("2026-10-25 01:30", fold=0), 60, utc("2026-10-25 01:30")),
        # And across the spring change: 00:30 GMT plus an hour is 02:30 BST, 01:30 UTC.
        (london("2027-03-28 00:30"), 60, utc("2027-03-28 01:30")),
    ],
)
def test_callback_due(t0: datetime, minutes: int, due: datetime) -> None:
    found = callback_due(t0, minutes)
    assert found == due
    assert found.tzinfo is UTC


def test_callback_due_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        callback_due(datetime(2026, 11, 23, 14, 2), 60)
