"""`strategy-bot run` as a real process in a test: start it, wait on what it does, stop it, leave nothing behind.

Deadlines only, never margins: generous, so that a machine under load is slow but not red.
"""

from __future__ import annotations

import email
import email.policy
import os
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


def wait_for(
    condition: Callable[[], T],
    what: str = "the daemon",
    timeout: float = DEADLINE,
    *,
    proc: subprocess.Popen[bytes] | None = None,
) -> T:
    """Poll `condition` until it is truthy and return its value; AssertionError naming `what` at the deadline.

    Given `proc`, a daemon that ends meanwhile fails the wait at once, with its exit code.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert proc is None or proc.poll() is None, f"the daemon ended ({proc.returncode}) while waiting for {what}"
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
    config: Path,
    cwd: Path,
    log: Path,
    *extra: str,
    env: Mapping[str, str] | None = None,
    append: bool = False,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """`strategy-bot run` with its log (stderr) written to `log`, stdout discarded."""
    return subprocess.Popen(
        run_command(config, *extra),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab" if append else "wb"),
        start_new_session=new_session,
    )


def start_piped(config: Path, cwd: Path, *extra: str, new_session: bool = False) -> subprocess.Popen[str]:
    """`strategy-bot run` with stdout and stderr captured as text, read back by `stop`."""
    return subprocess.Popen(
        run_command(config, *extra),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
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


def kill_if_running(
    procs: Iterable[subprocess.Popen[bytes]] | Iterable[subprocess.Popen[str]], *, group: bool = False
) -> None:
    """For a `finally`: no daemon outlives the test, whatever failed above (with `group`, its whole process group)."""
    for proc in procs:
        if proc.poll() is None:
            if group:  # started with new_session=True: it leads a group of its own
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait(timeout=DEADLINE)


def catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler for ``signum`` (the SigCgt mask in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (signum - 1) & 1)


def pause(proc: subprocess.Popen[bytes], deadline: float) -> None:
    """SIGSTOP, and wait until the kernel says the process is stopped (state T in /proc/<pid>/stat)."""
    proc.send_signal(signal.SIGSTOP)
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
        assert proc.poll() is None and time.monotonic() < deadline, "the daemon never stopped on SIGSTOP"
        time.sleep(0.0005)


def stopped_once_it_catches(proc: subprocess.Popen[bytes], signum: int, deadline: float) -> None:
    """Let the daemon run in tiny steps until it has a handler for ``signum``, and leave it stopped (SIGSTOP) there.

    It is looked at only while stopped, so what is seen still holds when the test's signal comes.
    """
    pause(proc, deadline)
    while not catches(proc.pid, signum):
        assert proc.poll() is None and time.monotonic() < deadline, (
            f"the daemon never caught {signal.Signals(signum).name}"
        )
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.001)
        pause(proc, deadline)
