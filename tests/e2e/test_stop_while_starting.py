"""A SIGTERM while `strategy-bot run` is still starting is a clean stop, exit 0 (issue 19 Why 9).

Before, a supervisor stopping the bot in its first half second killed it by the signal (exit
-15). The handler is now the first thing `python -m bot run` installs, before the command line
is imported; the test waits until the process says (in /proc) that it catches SIGTERM, then
sends it: the daemon is then importing, reading its config or opening the database.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.daemons import kill_if_running, start_logged, stopped_once_it_catches

REPO = Path(__file__).resolve().parents[2]
GIVE_UP_SECONDS = 180.0  # only so that a broken start fails the test instead of hanging the suite


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_in_the_first_moments_of_start_up_exits_0_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    log = tmp_path / "daemon.log"
    proc = start_logged(config, tmp_path, log)
    try:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        # Python catches SIGINT from its first moment (KeyboardInterrupt): SIGTERM tells ours is in place.
        # The daemon is looked at while stopped (SIGSTOP) and runs only between two looks, so what is
        # seen below still holds when the signal comes: a slow test process cannot let it start meanwhile.
        stopped_once_it_catches(proc, signal.SIGTERM, deadline)
        # Caught before the daemon has said a word: it is still starting (and stopped, so it stays so).
        assert "strategy-bot running" not in log.read_text()
        proc.send_signal(signum)  # pending until the daemon runs again
        proc.send_signal(signal.SIGCONT)
        proc.wait(timeout=GIVE_UP_SECONDS)
    finally:
        kill_if_running([proc])  # SIGKILL ends a stopped process too
    err = log.read_text()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "strategy-bot stopped" in err
