"""A stop asked for while `strategy-bot run` starts: SIGTERM or SIGINT then ends it cleanly, exit 0.

Installed first thing (``python -m bot run`` before the command line is even imported, and
first in ``cmd_run``), so that a supervisor stopping the bot in its first second does not kill
it half-way through opening the database or the mailbox; the daemon reads ``requested()``
once its own handlers are in place. Nothing heavy is imported here.
"""

from __future__ import annotations

import signal
from types import FrameType

_requested: list[int] = []


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _requested.append(signum)


_reload: list[int] = []


def _on_reload(signum: int, _frame: FrameType | None) -> None:
    """SIGHUP while starting: remembered (not fatal, exit 129); the daemon reads the file again once it runs."""
    _reload.append(signum)


def reload_requested() -> bool:
    """Whether SIGHUP came before the daemon's own handler was in place."""
    return bool(_reload)


def install() -> None:
    """From now until the daemon installs its own handlers, SIGTERM and SIGINT are remembered, not fatal."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)
    signal.signal(signal.SIGHUP, _on_reload)


def requested() -> int | None:
    """The signal that asked for the stop before the daemon ran, or None."""
    return _requested[0] if _requested else None
