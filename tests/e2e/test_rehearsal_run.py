"""`strategy-bot run --clock-start` as a real process on a Maildir: the rehearsal books on the simulated date."""

from __future__ import annotations

import mailbox
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from tests.support.daemons import sent_messages, start_piped, stop, wait_for
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]


def test_a_rehearsal_books_by_the_simulated_date_and_writes_files_for_its_user_only(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0
    inbox = mailbox.Maildir(data / "inbox", create=False)
    start = "2030-11-25T09:00:00+00:00"  # a Monday: booked for Wednesday 27th at 10:00
    proc = start_piped(config, tmp_path, "--clock-start", start)
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
        err = stop(proc)
    assert proc.returncode == 0, err
