"""Work the daemon's round must not wait for (the calendar feed), done on a thread of its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

log = logging.getLogger(__name__)


class Background:
    """Runs ``work(stamp)`` on its own thread whenever asked; asks made while it runs become one more run.

    ``request`` never waits: a round that booked something asks, and goes on reading mail and
    firing timers while the work is done. The latest stamp asked for is the one used. ``close``
    runs what is still asked for, then stops the thread.
    """

    def __init__(self, name: str, work: Callable[[datetime], object]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._asked: datetime | None = None
        self._running = False
        self._closing = False
        self.runs = 0  # finished runs, for tests and logs
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def request(self, stamp: datetime) -> None:
        with self._wake:
            self._asked = stamp
            self._wake.notify()

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is asked for or running (tests, shutdown); False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: self._asked is None and not self._running, timeout)

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._asked is not None or self._closing)
                stamp, self._asked = self._asked, None
                if stamp is None:
                    return  # closing, nothing left to do
                self._running = True
            try:
                self._work(stamp)
            except Exception as exc:  # noqa: BLE001 - the next ask tries again; the round must not die of it
                log.warning("%s failed: %s", self._thread.name, type(exc).__name__)
                log.debug("%s failed", self._thread.name, exc_info=True)
            with self._wake:
                self._running = False
                self.runs += 1
                self._wake.notify_all()
