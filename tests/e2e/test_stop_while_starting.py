"""A SIGTERM while `strategy-bot run` is still starting is a clean stop, exit 0 (issue 19 Why 9).

Before, a supervisor stopping the bot in its first half second killed it by the signal (exit
-15). The handler is now the first thing `python -m bot run` installs, before the command line
is imported; the test waits until the process says (in /proc) that it catches SIGTERM, then
sends it: the daemon is then importing, reading its config or opening the database.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]
GIVE_UP_SECONDS = 180.0  # only so that a broken start fails the test instead of hanging the suite


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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_in_the_first_moments_of_start_up_exits_0_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    log = tmp_path / "daemon.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        # Python catches SIGINT from its first moment (KeyboardInterrupt): SIGTERM tells ours is in place.
        # The daemon is looked at while stopped (SIGSTOP) and runs only between two looks, so what is
        # seen below still holds when the signal comes: a slow test process cannot let it start meanwhile.
        pause(proc, deadline)
        while not catches(proc.pid, signal.SIGTERM):
            assert proc.poll() is None and time.monotonic() < deadline, "the daemon never caught the signal"
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.001)
            pause(proc, deadline)
        # Caught before the daemon has said a word: it is still starting (and stopped, so it stays so).
        assert "strategy-bot running" not in log.read_text()
        proc.send_signal(signum)  # pending until the daemon runs again
        proc.send_signal(signal.SIGCONT)
        proc.wait(timeout=GIVE_UP_SECONDS)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()
    err = log.read_text()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "strategy-bot stopped" in err
