"""One daemon per SQLite database (issue 17 item 2): a second `run` is refused, naming the first one's PID.

Two real processes; the lock is the kernel's, so it goes with the process however it dies.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.daemons import kill_if_running, start_logged, wait_for

REPO = Path(__file__).resolve().parents[2]


def test_a_second_daemon_on_the_same_sqlite_database_is_refused_naming_the_first(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    data = tmp_path / "strategy-bot-data"
    subprocess.run([sys.executable, "-m", "bot", "init", "--config", str(config)], cwd=tmp_path, check=True)
    database = data / "bot.sqlite3"
    lock = data / "bot.sqlite3.lock"

    first = start_logged(config, tmp_path, tmp_path / "first.log")
    started = [first]
    try:
        wait_for(lambda: "strategy-bot running" in (tmp_path / "first.log").read_text(), "the first daemon to run")
        assert lock.read_text().strip() == str(first.pid)

        second = start_logged(config, tmp_path, tmp_path / "second.log")
        started.append(second)
        assert second.wait(timeout=180) == 1
        said = (tmp_path / "second.log").read_text()
        assert f"another strategy-bot (PID {first.pid}) is already running on {database}" in said
        assert "Traceback" not in said
        assert [line for line in said.splitlines() if "PID" in line] == [said.strip().splitlines()[-1]]
        assert first.poll() is None  # the first one is untouched

        # SIGKILL leaves no stale lock: the kernel lets it go with the process.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=180)
        third = start_logged(config, tmp_path, tmp_path / "third.log")
        started.append(third)
        try:
            wait_for(lambda: "strategy-bot running" in (tmp_path / "third.log").read_text(), "a new daemon to run")
            assert lock.read_text().strip() == str(third.pid)
        finally:
            third.send_signal(signal.SIGTERM)
            assert third.wait(timeout=180) == 0
    finally:
        kill_if_running(started)  # a failure above: no daemon outlives the test
