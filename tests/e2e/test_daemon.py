"""`strategy-bot run` as a subprocess on a temporary Maildir: mail in, booking and confirmation out."""

from __future__ import annotations

import mailbox
import sqlite3
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from icalendar import Calendar

from bot.cli import main
from tests.support.daemons import sent_messages, start_piped, stop, wait_for
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]


def test_daemon_books_a_request_dropped_in_the_maildir_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0  # `run` creates no folder itself
    inbox = mailbox.Maildir(data / "inbox", create=False)

    proc = start_piped(config, tmp_path)
    try:
        now = datetime.now(UTC)
        inbox.add(request_email(now, message_id="<e2e-1@council.example>"))

        # The email answering the request; on the real clock a daily agenda or the weekly report may
        # fall due during the test too, and is not what this test is about.
        def answers() -> list[EmailMessage]:
            return [m for m in sent_messages(data / "sent") if m["In-Reply-To"] == "<e2e-1@council.example>"]

        [confirmation] = wait_for(answers, "the confirmation")
        assert confirmation["To"] == "alex.morgan@council.example"
        assert ".confirmation." in str(confirmation["Message-ID"])
        [invite] = [p for p in confirmation.walk() if p.get_content_type() == "text/calendar"]
        vevent = next(iter(Calendar.from_ical(invite.get_content()).walk("VEVENT")))
        assert str(vevent["SUMMARY"]) == "Strategy discussion N146782"
        start = vevent.decoded("DTSTART")
        body = confirmation.get_body(("plain",))
        assert body is not None and f"{start:%H:%M}" in body.get_content()

        # The booking is in the database and in the published calendar feed.
        db = sqlite3.connect(data / "bot.sqlite3")
        [(subject, stored_start)] = db.execute("SELECT subject, start FROM calendar_events").fetchall()
        db.close()
        assert subject == "Strategy discussion N146782"
        assert datetime.fromisoformat(stored_start) == start.astimezone(UTC)
        feed = wait_for(
            lambda: (data / "strategy-calendar.ics").exists() and (data / "strategy-calendar.ics").read_bytes()
        )
        assert b"Strategy discussion N146782" in feed

        # The request left the inbox for Processed only after all that was committed.
        assert wait_for(lambda: not list(mailbox.Maildir(data / "inbox", create=False).iterkeys()))
        processed = mailbox.Maildir(data / "inbox" / ".Processed", create=False)
        assert len(list(processed.iterkeys())) == 1
    finally:
        err = stop(proc)
    assert proc.returncode == 0, err
    assert "Bond" not in err and "neglect" not in err  # log lines carry N numbers and case ids only
    assert "SD000001" in err
