"""Issue 18: a log line's time, made once a second and the milliseconds added, reads as it always did.

The stamp is ISO 8601 in the machine's zone with its offset, to the millisecond; lines logged
within one second share all but the milliseconds. Checked against the plain conversion for
times across the clocks going back and forward, in zones with odd offsets.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from bot import logging_setup


@pytest.fixture
def zone() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()
    logging_setup._last_second = None


@pytest.mark.parametrize("name", ["UTC", "Europe/London", "America/St_Johns", "Asia/Kolkata"])
def test_the_stamp_is_the_local_time_with_its_offset_to_the_millisecond(zone: None, name: str) -> None:
    os.environ["TZ"] = name
    time.tzset()
    logging_setup._last_second = None
    record = logging.LogRecord("bot.service", logging.INFO, "", 0, "case SD000001: booked", None, None)
    pick = random.Random(name)
    # An hour either side of the clocks going back (25 Oct 2026) and forward (28 Mar 2027) in London.
    for start in (1792890000.0 - 3600, 1806195600.0 - 3600):
        moment = start
        while moment < start + 7200:
            moment += pick.choice([0.0004, 0.3, 0.9999996, 1.0, 7.0, 61.25, 0.0000004])
            record.created = moment
            expected = datetime.fromtimestamp(moment).astimezone().isoformat(timespec="milliseconds")
            assert logging_setup._stamp(record) == expected
    # The same wall-clock second twice, an hour apart, as the clocks go back: told apart by the offset.
    for moment in (1792890000.0 - 1800.25, 1792890000.0 + 1800 - 0.25):
        record.created = moment
        expected = datetime.fromtimestamp(moment).astimezone().isoformat(timespec="milliseconds")
        assert logging_setup._stamp(record) == expected
