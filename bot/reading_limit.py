"""Reading a message under a time limit: a hostile message must not hold the inbox up.

Python cannot stop a thread that is stuck in a regular expression or a parser, so each
message is first read once in a worker process, exactly as the service will read it; if
that does not finish within ``inbox.parse_seconds`` the worker is killed and the message is
quarantined unread. A message that reads in time is then read in-process, where it takes
the same time. One pool serves every service in the process.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import logging
import multiprocessing
import threading
from email.message import EmailMessage
from multiprocessing.pool import AsyncResult, Pool

from bot.domain.classify import classify
from bot.domain.commands import read_command
from bot.domain.message_text import message_text
from bot.domain.model import Kind
from bot.domain.quoted_text import strip_quoted
from bot.domain.request_reading import read_request
from bot.domain.urgent_screening import screen_urgent_indicators

log = logging.getLogger(__name__)

# Generous: a loaded machine may take a while to start a Python process and import the bot.
STARTUP_SECONDS = 120
_pool: Pool | None = None
_lock = threading.Lock()


def _read(raw: bytes) -> None:
    """Every reading the service may do to a message, in the worker: its kind, its fields, a
    reply's first lines and command word, and the urgent screening. (The shape caps of
    ``over_limits`` stop counting at their limits, so they need no time limit.)"""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    verdict = classify(msg, ())
    read_request(msg, verdict.kind if verdict.kind in (Kind.URGENT, Kind.STANDARD) else Kind.STANDARD)
    plain = message_text(msg).plain
    read_command(strip_quoted(plain))
    screen_urgent_indicators(plain)


def _ready() -> None:
    """Imports done: the worker is ready for a timed read."""


def _get_pool() -> Pool:
    global _pool
    if _pool is None:
        # forkserver: the worker starts from a clean process, not a copy of the daemon's
        # threads and open database connections. Its start-up is not the message's time.
        _pool = multiprocessing.get_context("forkserver").Pool(processes=1)
        _pool.apply_async(_ready).get(timeout=STARTUP_SECONDS)
        atexit.register(_stop)
    return _pool


def _reader_failed(exc: Exception) -> None:
    log.error("the time-limited reader could not start (%s); reading without a limit", type(exc).__name__)
    _stop()


def _stop() -> None:
    global _pool
    if _pool is not None:
        _pool.terminate()
        _pool.join()
        _pool = None


# Reads started ahead of their turn (``read_ahead``), by the identity of the raw bytes; the
# bytes are kept with the result so that identity cannot be reused meanwhile.
_ahead: dict[int, tuple[bytes, AsyncResult[None]]] = {}


def read_ahead(raws: list[bytes]) -> None:
    """Start reading a batch in the worker now, so it reads message n+1 while the bot handles message n.

    Each message is still judged on its own: ``too_slow`` waits for its result at most
    ``seconds`` from when its turn comes, and the worker reads them in order, so a message has
    had at most that long plus the handling of the one before it.
    """
    with _lock:
        _ahead.clear()
        try:
            pool = _get_pool()
            for raw in raws:
                _ahead[id(raw)] = (raw, pool.apply_async(_read, (raw,)))
        except Exception as exc:  # noqa: BLE001 - each message's own turn tries again
            _reader_failed(exc)


def too_slow(raw: bytes, seconds: float) -> str | None:
    """None when the message reads within ``seconds``; else the reason to quarantine it.

    An error while reading is not this check's business: the service meets it again and
    quarantines the message with its own precise reason.
    """
    if seconds <= 0:
        return None
    global _pool
    with _lock:
        started = _ahead.pop(id(raw), None)
        try:
            if started is not None and started[0] is raw:
                pending = started[1]
            else:
                pending = _get_pool().apply_async(_read, (raw,))
        except Exception as exc:  # noqa: BLE001 - a reader that will not start must not stop the intake
            _reader_failed(exc)
            return None
        try:
            pending.get(timeout=seconds)
        except multiprocessing.TimeoutError:
            assert _pool is not None
            _pool.terminate()
            _pool = None
            _ahead.clear()  # the reads queued behind it died with the worker
            log.warning("a message took longer than %g s to read; its reader was stopped", seconds)
            return f"reading the message took longer than {seconds:g} s (inbox.parse_seconds)"
        except Exception:  # noqa: BLE001 - see the docstring
            return None
    return None
