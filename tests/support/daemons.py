"""`strategy-bot run` as a real process in a test: start it, wait on what it does, stop it, leave nothing behind.

Deadlines only, never margins: generous, so that a machine under load is slow but not red.
"""

from __future__ import annotations

import email
import email.policy
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 180.0  # seconds; a wait that needs more is stuck, not slow
POLL = 0.05


def wait_for(condition: Callable[[], T], what: str = "the daemon", timeout: float = DEADLINE) -> T:
    """Poll `condition` until it is truthy and return its value; AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL)
    raise AssertionError(f"timed out waiting for {what}")


def sent_messages(folder: Path) -> list[EmailMessage]:
    """The messages in a Maildir folder (new and cur), oldest file name first; none while it does not exist."""
    found = []
    for sub in ("new", "cur"):
        for path in sorted((folder / sub).glob("*")) if (folder / sub).exists() else []:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            found.append(msg)
    return found


def run_command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bot", "run", "--config", str(config), *extra]


def start_logged(
    config: Path, cwd: Path, log: Path, *extra: str, env: Mapping[str, str] | None = None, append: bool = False
) -> subprocess.Popen[bytes]:
    """`strategy-bot run` with its log (stderr) written to `log`, stdout discarded."""
    return subprocess.Popen(
        run_command(config, *extra),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab" if append else "wb"),
    )


def start_piped(config: Path, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    """`strategy-bot run` with stdout and stderr captured as text, read back by `stop`."""
    return subprocess.Popen(
        run_command(config, *extra), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, then wait for the process to end and return its stderr; killed (and the error raised) if it hangs."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return str(err)


def kill_if_running(procs: Iterable[subprocess.Popen[bytes]] | Iterable[subprocess.Popen[str]]) -> None:
    """For a `finally`: no daemon outlives the test, whatever failed above."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=DEADLINE)
