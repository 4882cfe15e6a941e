"""Storage faults in words: a full disk, a read-only or corrupt database stop the daemon with one line and exit 1.

A storage fault does not mend by retrying: the round that meets it says so, naming the
database, and the daemon stops so that its supervisor restarts it (and `run` then refuses in
one line until it is mended). The request in hand stays in the inbox: nothing is lost and
nothing is quarantined for the disk's fault. No traceback reaches the log above DEBUG.

The full disk is SQLite's own SQLITE_FULL, made by ``PRAGMA max_page_count`` on each
connection (the file may not grow by a page), rather than a small tmpfs, which needs root and
``mount``; the read-only database is ``PRAGMA query_only`` (root ignores file modes). Both are
set through SQLAlchemy's documented ``connect`` event on the store's own engine.
"""

from __future__ import annotations

import logging
import mailbox
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.adapters.system_clock import SystemClock
from bot.cli import main
from bot.config import Config
from bot.daemon import Daemon
from bot.wiring import Bot, build
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bot(config: Config) -> Iterator[Bot]:
    built = build(replace(config, inbox=replace(config.inbox, poll_seconds=0.05)))
    yield built
    built.close()


def database_of(bot: Bot) -> Path:
    return Path(bot.config.store.url.removeprefix("sqlite:///"))


def on_every_connection(bot: Bot, pragma: str) -> None:
    """Each new connection of the store runs ``pragma``; the connections already open are closed."""

    def run(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.execute(pragma)

    event.listen(bot.store.engine, "connect", run)
    bot.store.engine.dispose()


def deliver_request(bot: Bot) -> str:
    # A long reason: the message's row needs new pages in the database file.
    raw = request_email(datetime.now(UTC), message_id="<fault@council.example>", reason="Concerns. " * 2000)
    return mailbox.Maildir(bot.config.inbox.path, create=False).add(raw)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def stopped_on_a_fault(bot: Bot, caplog: pytest.LogCaptureFixture) -> tuple[int, list[str]]:
    """One round meets the fault; the daemon then ends with its exit code."""
    daemon = Daemon(bot, SystemClock())
    with caplog.at_level(logging.INFO):
        daemon.round()
        assert daemon.stopping
        code = daemon.run()
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)  # no traceback
    return code, errors(caplog)


def still_waiting(bot: Bot, key: str) -> bool:
    box = mailbox.Maildir(bot.config.inbox.path, create=False)
    quarantine = mailbox.Maildir(bot.config.inbox.path / f".{bot.config.inbox.quarantine_folder}", create=False)
    return key in box and not quarantine.keys()


def test_a_full_disk_stops_the_daemon_in_one_line_and_the_request_waits(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    on_every_connection(bot, "PRAGMA max_page_count = 1")  # raised to the pages in use: no page more
    key = deliver_request(bot)
    code, lines = stopped_on_a_fault(bot, caplog)
    assert code == 1
    full = f"the disk holding the database {database_of(bot)} is full: free space there, then start the bot again"
    assert f"storage fault: {full}; the bot stops (exit 1) for its supervisor to restart it" in lines
    assert f"strategy-bot stopped on a storage fault: {full}" in lines
    assert not any("inbox does not answer" in line or "quarantined" in line for line in lines)
    assert still_waiting(bot, key)


def test_a_read_only_database_stops_the_daemon_in_one_line(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    on_every_connection(bot, "PRAGMA query_only = ON")
    key = deliver_request(bot)
    code, lines = stopped_on_a_fault(bot, caplog)
    assert code == 1
    assert (
        f"strategy-bot stopped on a storage fault: the database {database_of(bot)} is read-only: make it and its "
        "folder writable by the bot's user (and the disk mounted read-write)"
    ) in lines
    assert still_waiting(bot, key)


PAGE = 4096


def fill(path: Path) -> int:
    """2,000 rows in the table every round reads (adapter_state); returns the pages in use before them."""
    db = sqlite3.connect(path)
    [(before,)] = db.execute("PRAGMA page_count").fetchall()
    db.executemany(
        "INSERT INTO adapter_state (key, value, updated_at) VALUES (?, ?, ?)",
        [(f"filler:{i}", "x" * 200, "2026-11-30T00:00:00") for i in range(2000)],
    )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the main file, where the pages are overwritten
    [(page_size,)] = db.execute("PRAGMA page_size").fetchall()
    db.close()
    assert page_size == PAGE
    return int(before)


def corrupt(path: Path, first_page: int) -> None:
    """Random bytes over the pages the filler took, from the middle of a real SQLite file to its end.

    The table's root page stays where it was, so every lookup in it now lands on garbage.
    """
    size = path.stat().st_size
    assert size >= (first_page + 8) * PAGE
    with path.open("r+b") as f:
        f.seek(first_page * PAGE)
        f.write(os.urandom(size - first_page * PAGE))


def test_a_database_corrupted_while_running_stops_the_daemon(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    before = fill(database_of(bot))
    bot.store.engine.dispose()
    corrupt(database_of(bot), before)
    deliver_request(bot)
    code, lines = stopped_on_a_fault(bot, caplog)
    assert code == 1
    assert (
        f"strategy-bot stopped on a storage fault: the database {database_of(bot)}: database disk image is "
        "malformed: restore from backup, see docs/operations.md"
    ) in lines


def test_a_corrupt_database_is_refused_at_start_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    database = tmp_path / "strategy-bot-data" / "bot.sqlite3"
    corrupt(database, fill(database))
    capsys.readouterr()
    malformed = f"the database {database}: database disk image is malformed"

    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert malformed in line and "restore from backup, see docs/operations.md" in line

    assert main(["status", "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith(f"strategy-bot status: {malformed}") and len(err.splitlines()) == 1

    assert main(["health", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if " integrity: " in line]
    assert line.startswith("down") and malformed in line and "restore from backup, see docs/operations.md" in line
