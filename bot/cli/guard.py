"""The last word of every command: an error nobody caught becomes one plain line and exit 1, never a traceback.

Storage faults are said in words naming the path (a full disk, a read-only or corrupt
database); an operating-system error by its words, not its errno; anything else by its type
only, the traceback going to the log at DEBUG.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.cli.common import EXIT_ERROR, config_from
from bot.errors import BotError
from bot.os_words import os_error_words
from bot.storage_faults import storage_fault

log = logging.getLogger("bot.cli")


def _database_url(args: argparse.Namespace) -> str | None:
    """The configured database, to name it; None when the config cannot be read again."""
    path = getattr(args, "config", None) or getattr(args, "file", None)
    try:
        return config_from(path).store.url
    except Exception:  # noqa: BLE001 - naming the database is a courtesy; the line is said without it
        return None


def one_line(exc: BaseException, database_url: str | None) -> str:
    """What the operator reads about ``exc``: words, with the path where there is one."""
    fault = storage_fault(exc, database_url)
    if fault is not None:
        return fault
    if isinstance(exc, OSError):
        return os_error_words(exc)
    if isinstance(exc, BotError):
        return " ".join(str(exc).split())
    return f"unexpected {type(exc).__name__}; the detail is in the log at DEBUG"


def unexpected(args: argparse.Namespace, exc: BaseException) -> int:
    log.debug("%s failed", getattr(args, "command", "the command"), exc_info=exc)
    print(f"strategy-bot {getattr(args, 'command', '')}: {one_line(exc, _database_url(args))}", file=sys.stderr)
    return EXIT_ERROR
