"""One daemon per SQLite database: an exclusive ``flock`` on a lock file beside it.

The kernel releases the lock when the process ends, however it ends (SIGKILL included), so a
crashed daemon never leaves a stale lock behind; the PID written into the file is only there
to name the holder to the one refused.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from bot.errors import BotError


class InstanceLocked(BotError):
    """Another process already runs on this database."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class InstanceLock:
    """Held from ``acquire`` until ``release`` or the end of the process."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = lock_path(database)
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held open for the life of the daemon
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise InstanceLocked(
                f"another strategy-bot (PID {holder}) is already running on {self.database}; "
                "SQLite takes one instance only (run two instances on PostgreSQL)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets the lock go; the file stays, for the next start
            self._file = None


def single_instance(kind: str, url: str) -> InstanceLock | None:
    """Hold the lock of the SQLite database ``url``; None for a shared database (the lease decides there)."""
    if kind != "sqlite" or not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    lock = InstanceLock(Path(url.removeprefix("sqlite:///")))
    lock.acquire()
    return lock
