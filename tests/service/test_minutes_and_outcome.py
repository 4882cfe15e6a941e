"""Issue 13 items 1 and 2 on the simulated clock: the minutes and the outcome circulated by the bot (§5, §6).

Each test replays a week of mail through the `replay` engine and asserts who gets what and when:
recipients (To and Cc apart), subjects, the attachment forwarded (name and bytes), the minute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from bot.config import load_config
from bot.domain.model import OutgoingEmail
from bot.replay import Replay, load
from tests.support.replays import Sent, replay, sent, write_received
from tests.support.requests_mail import london, reply_email, request_email

TM = "alex.morgan@council.example"
HEALTH = "health.safeguarding@nhs.example"
SCHOOL = "dsl@school.council.example"
DUTY_DS = "duty.ds@police.example"
REFERRALS = "referrals@police.example"
INVITED = (TM, HEALTH, SCHOOL)
POLICE = (DUTY_DS, REFERRALS)
DOCX = b"PK\x03\x04 minutes of the strategy discussion \x00\xff" * 20
MINUTES_MAIL = "SD000001.minutes_template.1"
CONFIRMATION = "SD000001.confirmation.1"


@dataclass(frozen=True)
class Run:
    emails: list[tuple[datetime, OutgoingEmail]]
    history: list[tuple[datetime, str, str]]  # (at, action, detail) of SD000001

    def of(self, purpose: str) -> list[tuple[datetime, OutgoingEmail]]:
        return [(at, m) for at, m in self.emails if m.purpose == purpose]


def run(folder: Path, messages: list[tuple[datetime, bytes]], until: datetime) -> Run:
    """The replay engine over ``messages``, keeping each email whole (attachments too) and the case's history."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(messages)]
    engine = Replay(load_config(None, base=folder))
    try:
        emails = []
        for _, result, events in engine.run(load(paths), until):
            if result is None:
                continue
            at = datetime.fromisoformat(events[-1]["at"]) if events else None
            for out in result.emails:
                emails.append((at or datetime.min, out))
        with engine.bot.store.transaction() as tx:
            history = [
                (h.at.astimezone(london("2026-11-23 09:00").tzinfo), h.action, h.detail) for h in tx.history("SD000001")
            ]
        return Run(emails, history)
    finally:
        engine.close()


def with_files(
    at: datetime, to_message: str, first_line: str, files: list[tuple[str, str, bytes]], sender: str = TM
) -> bytes:
    """A reply to the bot's email ``to_message`` with ``files`` (name, MIME type, bytes) attached."""
    domain = sender.rsplit("@", 1)[1]
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = REFERRALS
    msg["Subject"] = "RE: Minutes"
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<files.{at:%Y%m%d%H%M%S}@{domain}>"
    msg["Authentication-Results"] = f"mx.police.example; dmarc=pass header.from={domain}"
    msg["In-Reply-To"] = msg["References"] = f"<{to_message}@police.example>"
    msg.set_content(f"{first_line}\n\nThanks\n")
    for name, mime, data in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(msg)


REQUEST = (london("2026-11-23 09:00"), request_email(london("2026-11-23 09:00"), message_id="<r1@council.example>"))


# -- 1. the minutes ------------------------------------------------------------------------------


def test_minutes_attached_to_a_reply_to_the_minutes_email_go_to_everyone_invited_and_the_chase_stops(
    tmp_path: Path,
) -> None:
    at = london("2026-11-25 14:00")
    reply = with_files(at, MINUTES_MAIL, "Minutes attached", [("Minutes N146782.docx", "application/msword", DOCX)])
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-11-27 12:00"))
    [(sent_at, mail)] = replayed.of("minutes_circulation")
    assert sent_at == at
    assert mail.to == INVITED and mail.cc == POLICE
    assert mail.subject == "Minutes of the strategy discussion: N146782 (SD000001)"
    assert [(a.filename, a.data) for a in mail.attachments] == [("Minutes N146782.docx", DOCX)]
    # The chase set for Wed 16:15 and Thu 10:15 stops; nothing goes back to the sender.
    assert replayed.of("minutes_reminder") == [] and replayed.of("minutes_overdue") == []
    assert replayed.of("command_refused") == [] and replayed.of("command_help") == []
    [circulated] = [(t, d) for t, a, d in replayed.history if a == "minutes_circulated"]
    assert circulated[0] == at
    assert circulated[1] == (f"1 file(s) from {TM} to {TM}, {HEALTH}, {SCHOOL}; copy to the duty DS, referral unit")
    assert [d for _, a, d in replayed.history if a == "minutes_recorded"] == [
        "minutes attached to a reply; 2 reminder(s) stopped"
    ]


def test_minutes_sent_by_police_in_the_thread_after_the_discussion_go_on_as_well(tmp_path: Path) -> None:
    at = london("2026-11-25 16:00")
    reply = with_files(at, CONFIRMATION, "", [("minutes.pdf", "application/pdf", b"%PDF-1.7 minutes")], DUTY_DS)
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-11-26 12:00"))
    [(sent_at, mail)] = replayed.of("minutes_circulation")
    assert sent_at == at and mail.to == INVITED and mail.cc == POLICE
    assert [(a.filename, a.data) for a in mail.attachments] == [("minutes.pdf", b"%PDF-1.7 minutes")]
    assert replayed.of("minutes_overdue") == []


def test_minutes_shared_with_the_file_attached_circulates_it(tmp_path: Path) -> None:
    at = london("2026-11-25 15:00")
    reply = with_files(at, CONFIRMATION, "MINUTES SHARED", [("minutes.odt", "application/octet-stream", b"odt")])
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-11-26 12:00"))
    [(sent_at, mail)] = replayed.of("minutes_circulation")
    assert sent_at == at and [a.filename for a in mail.attachments] == ["minutes.odt"]


def test_minutes_shared_without_an_attachment_is_recorded_on_the_senders_word(tmp_path: Path) -> None:
    at = london("2026-11-25 15:00")
    reply = reply_email(at, CONFIRMATION, "MINUTES SHARED", f"Alex Morgan <{TM}>", "Booked")
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-11-27 12:00"))
    assert replayed.of("minutes_circulation") == [] and replayed.of("minutes_overdue") == []
    assert [d for _, a, d in replayed.history if a == "minutes_recorded"] == ["MINUTES SHARED; 2 reminder(s) stopped"]


def test_a_file_of_another_type_is_not_sent_on_and_the_sender_is_told_why(tmp_path: Path) -> None:
    at = london("2026-11-25 14:00")
    reply = with_files(at, MINUTES_MAIL, "Minutes", [("minutes.jpg", "image/jpeg", b"\xff\xd8\xff")])
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-11-26 12:00"))
    assert replayed.of("minutes_circulation") == []
    [(sent_at, refusal)] = replayed.of("command_refused")
    assert sent_at == at and refusal.to == (TM,) and refusal.cc == ()
    assert refusal.subject.startswith("Not done: minutes attached for strategy discussion N146782")
    assert "minutes.jpg (not a .docx, .odt, .pdf, .doc, .rtf file)" in refusal.text
    # Nothing was recorded, so the chase goes on: the reminder at 16:15, overdue on Thursday at 10:15.
    assert [at for at, _ in replayed.of("minutes_reminder")] == [london("2026-11-25 16:15")]
    assert [at for at, _ in replayed.of("minutes_overdue")] == [london("2026-11-26 10:15")]


def test_a_file_over_the_size_limit_is_not_sent_on_and_the_sender_is_told_why(tmp_path: Path) -> None:
    at = london("2026-11-25 14:00")
    big = b"x" * 10_000_001
    reply = with_files(at, MINUTES_MAIL, "Minutes", [("minutes.docx", "application/octet-stream", big)])
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-11-25 15:00"))
    assert replayed.of("minutes_circulation") == []
    [(_, refusal)] = replayed.of("command_refused")
    assert refusal.to == (TM,) and "minutes.docx (larger than 10 MB)" in refusal.text


# -- 2. the outcome ------------------------------------------------------------------------------


def test_outcome_goes_to_everyone_invited_and_a_change_to_no_further_action_stops_the_icpc_timers(
    tmp_path: Path,
) -> None:
    first = london("2026-11-25 15:00")
    changed = london("2026-11-26 11:00")
    replayed = run(
        tmp_path,
        [
            REQUEST,
            (first, reply_email(first, CONFIRMATION, "OUTCOME joint S47", f"Alex Morgan <{TM}>", "Booked")),
            (changed, reply_email(changed, CONFIRMATION, "OUTCOME no further action", f"DS <{DUTY_DS}>", "Booked")),
        ],
        until=london("2026-12-18 12:00"),
    )
    notices = replayed.of("outcome_notice")
    assert [(at, m.to, m.cc, m.subject) for at, m in notices] == [
        (first, INVITED, POLICE, "Strategy discussion outcome: N146782: joint S47 (SD000001)"),
        (changed, INVITED, POLICE, "Strategy discussion outcome changed: N146782: no further action (SD000001)"),
    ]
    assert "Initial Child Protection Conference due by Wednesday 16 December 2026" in notices[0][1].text
    later = notices[1][1].text
    assert "This replaces the outcome sent earlier (joint S47)." in later
    assert "No longer needed, and stopped:" in later
    assert "Initial Child Protection Conference due by Wednesday 16 December 2026" in later
    # No S47 record or ICPC email follows (they were due Mon 30 Nov, Wed 9 and 16 Dec).
    assert replayed.of("s47_outcome_due") == [] and replayed.of("icpc_due") == []


def test_a_joint_s47_outcome_keeps_its_timescales_counted_from_the_discussion(tmp_path: Path) -> None:
    at = london("2026-11-27 15:00")  # two days after the discussion of Wed 25 Nov
    reply = reply_email(at, CONFIRMATION, "OUTCOME single S47", f"Alex Morgan <{TM}>", "Booked")
    replayed = run(tmp_path, [REQUEST, (at, reply)], until=london("2026-12-18 12:00"))
    [(_, notice)] = replayed.of("outcome_notice")
    assert notice.to == INVITED and notice.cc == POLICE
    timers = [(at, m.purpose, m.to, m.cc) for at, m in replayed.emails if m.purpose in ("s47_outcome_due", "icpc_due")]
    assert timers == [
        (london("2026-11-30 09:00"), "s47_outcome_due", (TM,), ()),
        (london("2026-12-09 09:00"), "icpc_due", (TM,), (REFERRALS,)),
        (london("2026-12-16 09:00"), "icpc_due", (TM,), (REFERRALS,)),
    ]


def test_outcome_on_a_cancelled_case_is_refused_with_the_reason(tmp_path: Path) -> None:
    cancel_at = london("2026-11-23 12:00")
    outcome_at = london("2026-11-25 15:00")
    replayed = run(
        tmp_path,
        [
            REQUEST,
            (cancel_at, reply_email(cancel_at, CONFIRMATION, "CANCEL", f"Alex Morgan <{TM}>", "Booked")),
            (outcome_at, reply_email(outcome_at, CONFIRMATION, "OUTCOME joint S47", f"Alex Morgan <{TM}>", "Booked")),
        ],
        until=london("2026-12-18 12:00"),
    )
    assert replayed.of("outcome_notice") == [] and replayed.of("s47_outcome_due") == []
    [(at, refusal)] = replayed.of("command_refused")
    assert at == outcome_at and refusal.to == (TM,) and refusal.cc == ()
    assert refusal.subject.startswith("Not done: OUTCOME for strategy discussion N146782")
    # Cancelled, or closed by then: a cancelled case closes once nothing is pending (item 7).
    assert re.search(r"Case SD000001 is (cancelled|closed), so nothing more is recorded or sent for it\.", refusal.text)
    assert "outcome" not in [a for _, a, _ in replayed.history]


def test_replay_prints_the_circulated_minutes_and_outcome_as_email_events(tmp_path: Path) -> None:
    minutes_at = london("2026-11-25 14:00")
    outcome_at = london("2026-11-25 15:00")
    events = replay(
        tmp_path,
        [
            REQUEST,
            (minutes_at, with_files(minutes_at, MINUTES_MAIL, "", [("m.docx", "application/octet-stream", DOCX)])),
            (
                outcome_at,
                reply_email(outcome_at, CONFIRMATION, "OUTCOME child in need", f"Alex Morgan <{TM}>", "Booked"),
            ),
        ],
        until=london("2026-11-25 16:00"),
    )
    mine = [
        s
        for s in sent(events, london("2026-11-23 09:00").tzinfo)
        if s.purpose in ("minutes_circulation", "outcome_notice")
    ]
    assert mine == [
        Sent(
            minutes_at,
            "minutes_circulation",
            INVITED,
            POLICE,
            "Minutes of the strategy discussion: N146782 (SD000001)",
            "SD000001",
        ),
        Sent(
            outcome_at,
            "outcome_notice",
            INVITED,
            POLICE,
            "Strategy discussion outcome: N146782: child in need (SD000001)",
            "SD000001",
        ),
    ]
