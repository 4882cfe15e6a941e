"""The clocks the daemon runs on; everything else is given ``now``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that starts at a given instant and runs ``speed`` times faster than real time.

    For rehearsals and tests of the daemon (`run --clock-start ... --clock-speed ...`):
    a week of escalations and reminders in minutes, with the real daemon.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self._start = start
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)
