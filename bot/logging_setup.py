"""How the bot logs: one line per action, text or JSON, ISO timestamps with their offset.

- Our own loggers (``bot.*``) log at ``logging.level``, or DEBUG with ``--verbose``.
- Libraries (APScheduler, imapclient, exchangelib, urllib3, msal, requests, asyncio) log at
  WARNING only, whatever ``--verbose`` or ``logging.level`` say: imapclient's DEBUG lines carry
  whole messages and exchangelib's the Authorization header (issue 19). A filter on the handler
  drops their lower records as well, so a library that lowers its own level still says nothing.
- A warning or error repeated word for word is logged once; while it keeps coming, one summary
  line every ``logging.repeat_summary_seconds`` says how many more times it happened and since when.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from bot.config.schema import LoggingConfig

# Loggers of the libraries the bot uses: never below WARNING in our log.
LIBRARIES = ("apscheduler", "imapclient", "exchangelib", "urllib3", "msal", "requests", "asyncio", "tzlocal")
LIBRARY_LEVEL = logging.WARNING
OWN = "bot"

_installed: logging.StreamHandler[TextIO] | None = None
_repeats: RepeatSummary | None = None  # the installed handler's, summed up at exit
_verbose = False


_LIBRARY_NAMES: dict[str, bool] = {}  # logger name: one of the libraries' (a logger's name never changes)


def _library(name: str) -> bool:
    known = _LIBRARY_NAMES.get(name)
    if known is None:
        known = any(name == lib or name.startswith(lib + ".") for lib in LIBRARIES)
        if len(_LIBRARY_NAMES) < 10_000:
            _LIBRARY_NAMES[name] = known
    return known


# The last second stamped: (the local wall-clock second, its text up to the seconds, its offset).
# Lines come many a second, and all but the milliseconds is the same within one.
_last_second: tuple[datetime, str, str] | None = None


def _stamp(record: logging.LogRecord) -> str:
    """ISO 8601 with the offset, in the machine's zone (the journal's), to the millisecond."""
    global _last_second
    moment = datetime.fromtimestamp(record.created)
    second = moment.replace(microsecond=0)  # keeps ``fold``: the repeated hour when the clocks go back
    last = _last_second
    if last is None or last[0] != second or last[0].fold != second.fold:
        text = second.astimezone().isoformat()  # "2026-11-30T09:04:14+00:00": the zone's offset in that second
        last = _last_second = (second, text[:19], text[19:])
    return f"{last[1]}.{moment.microsecond // 1000:03d}{last[2]}"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_stamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _stamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# APScheduler's warning when a poll comes while the round in hand is still running: by design (one
# round at a time), and worded with the next run time, so a repeat summary could not fold it.
_EXPECTED = ("maximum number of running instances reached",)


class LibraryCap(logging.Filter):
    """Drop a library's records below WARNING, whatever level its logger was given, and its expected warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _library(record.name):
            return True
        return record.levelno >= LIBRARY_LEVEL and not any(text in record.getMessage() for text in _EXPECTED)


@dataclass
class _Seen:
    last_shown: float  # when the line, or its last summary, was logged (record.created)
    more: int = 0  # repeats since then, held back


class RepeatSummary(logging.Filter):
    """A warning or error logged again with the same words is held back and counted.

    Once ``every_seconds`` have passed since it was last shown, the next record of any kind
    first sends one summary, "<line> (repeated 120 more times since 09:01)", through ``emit``
    (the handler), so a burst followed by other lines is summed up too. Time is the records' own
    (``record.created``): the filter needs no clock of its own.
    """

    def __init__(self, every_seconds: float, emit: Callable[[logging.LogRecord], object] | None = None) -> None:
        super().__init__()
        self.every_seconds = every_seconds
        self.emit = emit
        self._seen: dict[tuple[str, int, str], _Seen] = {}
        # The earliest time a line held back is due its summary; None: none is held back. Every
        # record is filtered, so the lines seen are looked through only when one may be due.
        self._next_due: float | None = None
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "repeat_summary", False):
            return True
        with self._lock:
            # A millisecond early: the sum here and the difference in ``_due`` may round apart.
            next_due = self._next_due
            due = self._due(record.created) if next_due is not None and record.created >= next_due - 0.001 else []
            if record.levelno < logging.WARNING:
                shown = True
            else:
                key = (record.name, record.levelno, record.getMessage())
                seen = self._seen.get(key)
                if seen is None:
                    if len(self._seen) > 1000:  # many different failures: forget the old ones
                        self._seen.clear()
                        self._next_due = None
                    self._seen[key] = _Seen(record.created)
                    shown = True
                else:
                    seen.more += 1
                    shown = False
                    when = seen.last_shown + self.every_seconds
                    if self._next_due is None or when < self._next_due:
                        self._next_due = when
        for summary in due:
            if self.emit is not None:
                self.emit(summary)
        return shown

    def flush(self, now: float) -> None:
        """Sum up every line still held back, whenever it was last shown (the process is ending)."""
        with self._lock:
            due = self._due(now, every=0.0)
        for summary in due:
            if self.emit is not None:
                self.emit(summary)

    def _due(self, now: float, every: float | None = None) -> list[logging.LogRecord]:
        """A summary record for each line held back and last shown ``every_seconds`` ago or more."""
        every = self.every_seconds if every is None else every
        due = []
        self._next_due = None
        for (name, level, text), seen in self._seen.items():
            if seen.more and now - seen.last_shown < every:  # still held back: when it falls due
                when = seen.last_shown + self.every_seconds
                if self._next_due is None or when < self._next_due:
                    self._next_due = when
            if seen.more and now - seen.last_shown >= every:
                since = datetime.fromtimestamp(seen.last_shown).astimezone().strftime("%H:%M")
                summary = logging.LogRecord(
                    name, level, "", 0, f"{text} (repeated {seen.more} more times since {since})", None, None
                )
                summary.created = now
                summary.repeat_summary = True
                due.append(summary)
                seen.last_shown, seen.more = now, 0
        return due


def flush_repeats() -> None:
    """At exit: every warning still held back is summed up, so the last lines of a run say it."""
    # A handler whose stream is already closed (a test harness's capture) has no one to tell.
    if _repeats is not None and _installed is not None and not getattr(_installed.stream, "closed", False):
        _repeats.flush(time.time())


def configure(settings: LoggingConfig | None = None, verbose: bool | None = None, stream: TextIO | None = None) -> None:
    """Set up (or, on SIGHUP, set up again) the one handler on the root logger.

    ``verbose`` left out keeps what the last call said (a reload keeps ``--verbose``).
    """
    global _installed, _repeats, _verbose
    settings = settings or LoggingConfig()
    if verbose is not None:
        _verbose = verbose
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(LibraryCap())
    repeats = RepeatSummary(settings.repeat_summary_seconds, emit=handler.handle)
    handler.addFilter(repeats)
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    # A previous basicConfig (a test harness, say) would print every line twice.
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler) and old.stream in (sys.stderr, sys.stdout):
            root.removeHandler(old)
    root.addHandler(handler)
    if _repeats is None:  # once: before logging's own exit hook (atexit runs the last registered first)
        atexit.register(flush_repeats)
    elif _installed is not None:
        _repeats.flush(time.time())  # a reload: what the old handler held back is said now
    _installed, _repeats = handler, repeats
    root.setLevel(logging.WARNING)  # anyone else's loggers: warnings only
    own_level = logging.DEBUG if _verbose else getattr(logging, settings.level.upper())
    logging.getLogger(OWN).setLevel(own_level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(LIBRARY_LEVEL)
