"""A real full disk under a running `strategy-bot run`, and a real read-only disk: one line, exit 1, nothing lost.

The data folder is on a small tmpfs mounted for the test (this needs root and the right to
mount, as in the test container; elsewhere the test is skipped, and test_storage_faults.py
proves the same paths portably with SQLite's own pragmas). The disk is filled while the daemon
runs, and a request then arrives by a rename (which needs no space); a disk with files open for
writing cannot be remounted read-only, so the read-only disk is met at start. The full-disk test
takes about 9 s: two daemon starts and a 100 KB request read in the reader's worker process.
"""

from __future__ import annotations

import errno
import mailbox
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.daemons import DEADLINE, kill_if_running, start_logged, wait_for
from tests.support.deploy import init
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)], check=False)
    if done.returncode != 0:
        pytest.skip("this machine does not let the test mount a tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def deployment(tmp_path: Path, data: Path) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8").replace("strategy-bot-data", str(data))
    config = tmp_path / "bot.toml"
    config.write_text(text, encoding="utf-8")
    return init(config)


def wait_for_line(log: Path, text: str, timeout: float = DEADLINE) -> None:
    wait_for(
        lambda: text in log.read_text(encoding="utf-8", errors="replace"), f"{text!r} in the daemon's log", timeout
    )


def waiting_request(inbox: Path) -> tuple[Path, Path]:
    """A large request written into the Maildir's tmp/ while there is room: its rename into new/ needs none."""
    raw = request_email(datetime.now(UTC), message_id="<disk@council.example>", reason="Concerns. " * 10_000)
    held = inbox / "tmp" / "1.disk.strategy-bot-test"
    held.write_bytes(raw)
    return held, inbox / "new" / held.name


def fill(folder: Path) -> None:
    """Write until the file system says it is full."""
    chunk = b"\0" * 65536
    with (folder / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def stopped(proc: subprocess.Popen[bytes], log: Path) -> tuple[int, list[str]]:
    code = proc.wait(timeout=180)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text
    return code, [line for line in text.splitlines() if " ERROR " in line]


def test_a_disk_filling_up_under_the_daemon_stops_it_in_one_line(tmp_path: Path, disk: Path) -> None:
    data = disk / "data"
    config = deployment(tmp_path, data)
    log = tmp_path / "daemon.log"
    held, arrived = waiting_request(data / "inbox")
    proc = start_logged(config, config.parent, log)
    try:
        wait_for_line(log, "strategy-bot running")
        fill(disk)
        os.rename(held, arrived)
        code, errors = stopped(proc, log)
    finally:
        kill_if_running([proc])
    assert code == 1
    database = data / "bot.sqlite3"
    full = f"the disk holding the database {database} is full: free space there, then start the bot again"
    assert any(f"storage fault: {full}" in line for line in errors), errors
    assert any(f"strategy-bot stopped on a storage fault: {full}" in line for line in errors), errors
    assert arrived.exists()  # still waiting in the inbox: nothing lost, nothing quarantined

    # Room again: it starts and handles the request.
    (disk / "filler").unlink()
    proc = start_logged(config, config.parent, tmp_path / "again.log")
    try:
        box = mailbox.Maildir(data / "inbox", create=False)
        wait_for(lambda: not list(box.iterkeys()), "the request to leave the inbox")
        assert not list(box.iterkeys())
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=180) == 0
        finally:
            kill_if_running([proc])


def test_a_read_only_disk_is_refused_at_start_in_one_line_naming_it(
    tmp_path: Path, disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = disk / "data"
    config = deployment(tmp_path, data)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)  # as after a disk error
    log = tmp_path / "daemon.log"
    code, errors = stopped(start_logged(config, config.parent, log), log)
    assert code == 1
    database = data / "bot.sqlite3"
    assert errors and all("cannot start" in line for line in errors)
    assert any(f"store.path: {database} is on a read-only file system; remount it read-write" in e for e in errors)

    assert main(["check-config", "--offline", str(config)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"PROBLEM: store.path: {database} is on a read-only file system" in out
