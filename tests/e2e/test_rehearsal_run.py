"""`strategy-bot run --clock-start` as a real process on a Maildir: the rehearsal books on the simulated date."""

from __future__ import annotations

import mailbox
import signal
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from tests.e2e.test_daemon import sent_messages, wait_for
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]


def test_a_rehearsal_books_by_the_simulated_date_and_writes_files_for_its_user_only(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0
    inbox = mailbox.Maildir(data / "inbox", create=False)
    start = "2030-11-25T09:00:00+00:00"  # a Monday: booked for Wednesday 27th at 10:00
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config), "--clock-start", start],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        inbox.add(request_email(datetime.now(UTC), message_id="<rehearsal-run@council.example>"))
        [confirmation] = wait_for(lambda: sent_messages(data / "sent"))
        assert "Strategy discussion booked: N146782 on Wed 27 Nov at 10:00" in confirmation["Subject"]
        db = sqlite3.connect(data / "bot.sqlite3")
        try:
            [(booked,)] = db.execute("SELECT start FROM calendar_events").fetchall()
            [(received,)] = db.execute("SELECT received_at FROM messages").fetchall()
        finally:
            db.close()
        assert booked == "2030-11-27T10:00:00+00:00"
        assert received.startswith("2030-11-25T09:0")  # on the simulated clock, not the file's real time
        files = [p for p in (data / "sent").rglob("*") if p.is_file()]
        assert files and {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o600"}  # umask 077
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
