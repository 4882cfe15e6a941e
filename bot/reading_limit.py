"""Reading a message under a time limit: a hostile message must not hold the inbox up.

Python cannot stop a thread that is stuck in a regular expression or a parser, so each
message is read in a worker process (``read_message``, once: the service uses what it
returns); if that does not finish within ``inbox.parse_seconds`` the worker is killed and
replaced, and the message is quarantined unread.

The worker pool is pebble's: ``concurrent.futures.ProcessPoolExecutor`` cannot stop a worker
that is stuck in a task (it waits for it, at shutdown and at interpreter exit alike).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass

from pebble import ProcessPool

from bot.mail.reading import MessageReading, ReadingLimits, TooSlow, read_message

log = logging.getLogger(__name__)

# Generous: a loaded machine may take a while to start a Python process and import the bot.
STARTUP_SECONDS = 120

# How often a wait for a reading looks whether the pool behind it has broken down.
_CHECK_SECONDS = 1.0

ReadFunction = Callable[[bytes, frozenset[str], ReadingLimits], MessageReading]


@dataclass(frozen=True)
class _Pending:
    """One message's reading, started in ``pool``."""

    raw: bytes
    pool: ProcessPool
    future: Future[MessageReading | None]


def _quiet_worker() -> None:
    """Runs first in each worker. systemd signals the daemon's whole process group and so the
    workers too: SIGINT is the parent's to act on (it stops the workers itself), and SIGTERM
    ends a worker at once, even one stuck in C code, without a Python handler or a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _read_in_worker(
    read: ReadFunction, raw: bytes, own_addresses: frozenset[str], limits: ReadingLimits
) -> MessageReading | None:
    """None when the reading raised: the parent reads the message again and meets the error
    itself, so no exception (which may not survive pickling) crosses the process boundary."""
    try:
        return read(raw, own_addresses, limits)
    except Exception:  # noqa: BLE001 - see the docstring
        return None


class TimeLimitedReader:
    """Reads each message once, in one worker process, within ``seconds`` (``inbox.parse_seconds``).

    With ``seconds <= 0`` it reads in-process, without a limit, and starts no process. The
    worker is started at the first read and stopped by ``close``. The limit counts a message's
    own reading, from when the worker takes it up. A worker that ends under a message (killed
    from outside) is replaced and the message read again in the new one; a reader that fails
    twice, or will not start, costs the limit and nothing else: the message is read
    in-process, and the next one in a fresh worker.
    """

    def __init__(
        self,
        seconds: float,
        own_addresses: Collection[str],
        limits: ReadingLimits,
        read: ReadFunction = read_message,
    ) -> None:
        self.seconds = seconds
        self.own_addresses = frozenset(own_addresses)
        self.limits = limits
        self._read = read
        self._lock = threading.Lock()
        self._pool: ProcessPool | None = None
        # Reads started ahead of their turn, by the identity of the raw bytes; the bytes are
        # kept with the future so that identity cannot be reused meanwhile.
        self._ahead: dict[int, _Pending] = {}

    def read(self, raw: bytes) -> MessageReading | TooSlow:
        """What the message says, or ``TooSlow`` when it did not read in time.

        Raises what ``read_message`` raises on a message it cannot read.
        """
        if self.seconds <= 0:
            return self._read_here(raw)
        with self._lock:
            ahead = self._ahead.pop(id(raw), None)
            pending = ahead if ahead is not None and ahead.raw is raw else self._schedule(raw)
        # A worker that ends under a message (systemd's SIGTERM to the process group ends it)
        # gives the message one more try in a fresh worker, so that a stuck message is still
        # stopped at the limit; only a second failure has it read here, without one.
        for retry in (True, False):
            if pending is None:
                break
            outcome = self._outcome(pending)
            if outcome is not None:
                return outcome
            if retry:
                with self._lock:
                    pending = self._schedule(raw)
        log.error("the time-limited reader failed twice; reading the message without a limit")
        return self._read_here(raw)

    def read_ahead(self, raws: Sequence[bytes]) -> None:
        """Start reading a batch now, in order, so the worker reads message n+1 while the bot handles message n.

        Reads left from an earlier batch are forgotten, not stopped: stopping one the worker
        has begun would cost a new worker.
        """
        if self.seconds <= 0:
            return
        with self._lock:
            self._ahead.clear()
            for raw in raws:
                pending = self._schedule(raw)
                if pending is None:
                    return  # each message's own turn tries again
                self._ahead[id(raw)] = pending

    def close(self) -> None:
        """Stop the worker, whatever it is doing; closing twice is harmless."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._ahead.clear()
        if pool is not None:
            _stop(pool)

    # -- inside -----------------------------------------------------------------------------

    def _read_here(self, raw: bytes) -> MessageReading:
        return self._read(raw, self.own_addresses, self.limits)

    def _schedule(self, raw: bytes) -> _Pending | None:
        """The message's reading, started in the worker; None when the worker cannot be had."""
        try:
            if self._pool is not None and not self._pool.active:
                # Its worker ended while idle (killed from outside): pebble gives such a pool up.
                log.warning("the time-limited reader's worker ended; starting a new one")
                self._discard_pool()
            if self._pool is None:
                self._pool = ProcessPool(
                    max_workers=1, initializer=_quiet_worker, context=multiprocessing.get_context("spawn")
                )
            args = (self._read, raw, self.own_addresses, self.limits)
            future: Future[MessageReading | None] = self._pool.schedule(_read_in_worker, args, timeout=self.seconds)
            return _Pending(raw, self._pool, future)
        except Exception as exc:  # noqa: BLE001 - a reader that will not start must not stop the intake
            log.error("the time-limited reader could not start (%s); reading without a limit", type(exc).__name__)
            self._discard_pool()
            return None

    def _outcome(self, pending: _Pending) -> MessageReading | TooSlow | None:
        """The reading, or ``TooSlow``; None when the worker or its pool failed under it."""
        if not self._answered(pending):
            log.warning("the time-limited reader gave no answer; starting a new one")
            with self._lock:
                if self._pool is pending.pool:
                    self._discard_pool()
            return None
        try:
            reading = pending.future.result()
        except TimeoutError:
            log.warning("a message took longer than %g s to read; its reader was stopped", self.seconds)
            return TooSlow(f"reading the message took longer than {self.seconds:g} s (inbox.parse_seconds)")
        except Exception as exc:  # noqa: BLE001 - the worker died under it (ProcessExpired) or the pool broke
            log.warning("the time-limited reader's worker ended under a message (%s)", type(exc).__name__)
            return None
        return reading if reading is not None else self._read_here(pending.raw)

    def _answered(self, pending: _Pending) -> bool:
        """Whether the reading finished, in time or not; False when its pool broke down or never started.

        The pool enforces the limit itself: this wait only guards against a worker that never
        starts, and a pool that gave up with the reading still queued in it.
        """
        deadline = time.monotonic() + STARTUP_SECONDS + self.seconds
        while not wait([pending.future], timeout=_CHECK_SECONDS).done:
            if not pending.pool.active or time.monotonic() > deadline:
                return pending.future.done()
        return True

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        self._ahead.clear()  # their reads went with the worker
        if pool is not None:
            _stop(pool)


def _stop(pool: ProcessPool) -> None:
    """Kill the workers and join the pool's threads; never waits on a worker's task."""
    try:
        pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
        pool.join()
    except Exception as exc:  # noqa: BLE001 - shutting down goes on whatever the pool says
        log.warning("the time-limited reader did not stop cleanly (%s)", type(exc).__name__)
