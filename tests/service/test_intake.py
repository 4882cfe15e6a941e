"""The service on the embedded adapters: what lands in the calendar, the outbox and the history."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.adapters import sql_schema as t
from bot.config import load_config
from bot.domain.model import CalendarEvent, CaseState
from bot.ports import Folder, IncomingMail
from bot.wiring import Bot, build
from tests.support.requests_mail import london, plain_text, queued_emails, request_email


def deliver(bot: Bot, raw: bytes, at: datetime, key: str = "k") -> object:
    return bot.service.handle(IncomingMail(key=key, raw=raw, received_at=at), at)


def events(bot: Bot) -> list[CalendarEvent]:
    return bot.calendar.all_events()


def test_complete_standard_request_is_booked_and_confirmed(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, message_id="<req-1@council.example>")
    result = deliver(bot, raw, sent)

    assert result.kind == "standard" and result.folder is Folder.PROCESSED  # type: ignore[attr-defined]
    [event] = events(bot)
    assert event.subject == "Strategy discussion N146782"
    assert event.start == london("2026-11-25 10:00") and event.end == london("2026-11-25 10:15")
    assert "Bond children" in event.body and "Team Manager: Alex Morgan (01632 960123)" in event.body
    assert set(event.attendees) == {
        "alex.morgan@council.example",
        "health.safeguarding@nhs.example",
        "dsl@school.council.example",
    }
    assert event.private

    [confirmation] = queued_emails(bot)
    assert confirmation["To"] == "alex.morgan@council.example"
    # Everyone invited gets the confirmation and its invitation too.
    assert confirmation["Cc"] == "health.safeguarding@nhs.example, dsl@school.council.example"
    assert confirmation["In-Reply-To"] == "<req-1@council.example>"
    assert confirmation["Auto-Submitted"] == "auto-replied"
    assert "Bond" not in confirmation["Subject"] and "N146782" in confirmation["Subject"]
    text = plain_text(confirmation)
    for expected in ("Wednesday 25 November 2026", "10:00", "0203 555 0174", "76 52 87 15 then #", "N146782"):
        assert expected in text
    invites = [p for p in confirmation.walk() if p.get_content_type() == "text/calendar"]
    assert invites and invites[0].get_param("method") == "REQUEST"
    cal = Calendar.from_ical(invites[0].get_content())
    [vevent] = [c for c in cal.walk("VEVENT")]
    assert str(vevent["SUMMARY"]) == "Strategy discussion N146782"
    assert vevent.decoded("DTSTART") == london("2026-11-25 10:00")


def test_the_same_message_twice_makes_one_case_one_booking_one_reply(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, message_id="<twice@council.example>")
    first = deliver(bot, raw, sent)
    second = deliver(bot, raw, sent + timedelta(minutes=5))
    assert second.duplicate and second.case_id == first.case_id  # type: ignore[attr-defined]
    assert len(events(bot)) == 1
    assert len(queued_emails(bot)) == 1
    with bot.store.connection() as conn:
        assert conn.execute(select(t.cases)).all().__len__() == 1


def test_missing_fields_are_asked_for_and_a_reply_completes_the_booking(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, message_id="<gap@council.example>", phone=None, surname=None)
    result = deliver(bot, raw, sent)
    assert events(bot) == []
    [ask] = queued_emails(bot)
    assert ask["To"] == "alex.morgan@council.example"
    text = plain_text(ask)
    assert "a contact number" in text and "the children's surname" in text
    with bot.store.transaction() as tx:
        case = tx.case(result.case_id)  # type: ignore[attr-defined]
        assert case is not None and case.state is CaseState.AWAITING_INFORMATION

    reply_at = london("2026-11-23 11:30")
    reply = request_email(
        reply_at,
        subject=f"RE: {ask['Subject']}",
        message_id="<gap-reply@council.example>",
        in_reply_to=ask["Message-ID"],
        body=(
            "Contact number: 01632 960555\nChildren's surname: Bond\n\n> quoted: Contact number:\n> N number: N999999\n"
        ),
    )
    replied = deliver(bot, reply, reply_at, key="k2")
    assert replied.kind == "reply" and replied.case_id == result.case_id  # type: ignore[attr-defined]
    [event] = events(bot)
    assert event.subject == "Strategy discussion N146782"  # the quoted N999999 was not read
    assert event.start == london("2026-11-25 10:00")
    confirmation = queued_emails(bot)[-1]
    assert "01632 960555" in plain_text(confirmation) or "01632 960555" in event.body


def test_urgent_request_is_acknowledged_and_referred_to_the_duty_ds(bot: Bot) -> None:
    sent = london("2026-11-23 14:02")
    raw = request_email(
        sent,
        subject="URGENT S47 ENQUIRY N146782",
        message_id="<urgent@council.example>",
        reason="Bruising to a non-mobile baby seen at nursery today.",
    )
    result = deliver(bot, raw, sent + timedelta(minutes=12))
    assert result.kind == "urgent"  # type: ignore[attr-defined]
    assert events(bot) == []  # urgent discussions are arranged by phone, not in the slots
    ack, referral = queued_emails(bot)
    assert ack["To"] == "alex.morgan@council.example"
    ack_text = plain_text(ack)
    assert "01632 960123" in ack_text
    assert "15:02" in ack_text  # an hour from the Date header, not from receipt
    assert "DS Sam Carver" in ack_text and "101 Extn 345458" in ack_text and "101 Extn 347355" in ack_text
    assert referral["To"] == "duty.ds@police.example"
    assert referral["Cc"] == "referrals@police.example"
    assert "Bruising to a non-mobile baby" in plain_text(referral)
    assert "Bond" not in referral["Subject"] and "baby" not in referral["Subject"]


@pytest.mark.parametrize(
    ("sender", "auth", "why"),
    [
        ("Eve <eve@elsewhere.example>", "mx.police.example; dmarc=pass header.from=elsewhere.example", "domain"),
        ("Alex <alex.morgan@council.example>", "mx.police.example; dmarc=fail header.from=council.example", "dmarc"),
        ("Alex <alex.morgan@council.example>", "mx.attacker.example; dmarc=pass header.from=council.example", "dmarc"),
        ("Alex <alex.morgan@council.example>", None, "dmarc"),
    ],
)
def test_untrusted_requests_are_quarantined_and_only_the_admin_is_told(
    bot: Bot, sender: str, auth: str | None, why: str
) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, sender=sender, auth=auth, message_id="<forged@elsewhere.example>")
    result = deliver(bot, raw, sent)
    assert result.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
    assert why in (result.reason or "")  # type: ignore[attr-defined]
    assert events(bot) == []
    [notice] = queued_emails(bot)
    assert notice["To"] == "bot.admin@police.example"
    assert "<forged@elsewhere.example>" in plain_text(notice)


def test_unrecognised_mail_goes_to_triage_with_a_short_reply(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, subject="Question about next week's rota", body="Who is on duty next week?\n")
    result = deliver(bot, raw, sent)
    assert result.folder is Folder.TRIAGE  # type: ignore[attr-defined]
    [reply] = queued_emails(bot)
    assert reply["To"] == "alex.morgan@council.example"
    text = plain_text(reply)
    assert "URGENT S47 ENQUIRY" in text and "Strategy discussion" in text


def test_an_out_of_office_reply_is_recorded_and_never_answered(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(
        sent,
        subject="Automatic reply: Strategy discussion N146782",
        extra_headers={"Auto-Submitted": "auto-replied"},
    )
    result = deliver(bot, raw, sent)
    assert result.outcome == "ignored" and result.folder is Folder.PROCESSED  # type: ignore[attr-defined]
    assert queued_emails(bot) == [] and events(bot) == []


def test_a_full_day_overflows_to_the_next_meeting_day_and_hand_bookings_count(bot: Bot) -> None:
    hand = CalendarEvent(
        uid="hand-1",
        subject="Strategy discussion N555555",
        start=london("2026-11-25 10:20"),
        end=london("2026-11-25 10:35"),
    )
    with bot.store.transaction():
        bot.calendar.book(hand)
    sent = london("2026-11-23 09:00")
    for i in range(5):
        raw = request_email(
            sent + timedelta(minutes=i), message_id=f"<fill-{i}@council.example>", n_number=f"N10000{i}"
        )
        deliver(bot, raw, sent + timedelta(minutes=i), key=f"k{i}")
    starts = [e.start for e in events(bot) if e.uid != "hand-1"]
    # 10:15 and 10:30 are blocked by the hand booking at 10:20-10:35.
    assert starts == [
        london("2026-11-25 10:00"),
        london("2026-11-25 10:45"),
        london("2026-11-25 11:00"),
        london("2026-11-25 11:15"),
        london("2026-11-27 10:00"),
    ]
    assert not any(m["Subject"].startswith("Strategy discussion timescale") for m in queued_emails(bot))


def test_a_slot_beyond_the_timescale_is_booked_and_flagged(bot: Bot) -> None:
    # Wednesday and Friday filled by hand: the next slot, Monday 30th, is 5 working days on.
    with bot.store.transaction():
        for day in ("2026-11-25", "2026-11-27"):
            bot.calendar.book(
                CalendarEvent(
                    uid=f"block-{day}", subject="Training", start=london(f"{day} 10:00"), end=london(f"{day} 11:30")
                )
            )
    sent = london("2026-11-23 09:00")
    deliver(bot, request_email(sent), sent)
    booked = [e for e in events(bot) if not e.uid.startswith("block")]
    assert [e.start for e in booked] == [london("2026-11-30 10:00")]
    confirmation, at_risk = queued_emails(bot)
    assert at_risk["To"] == "alex.morgan@council.example" and at_risk["Cc"] == "referrals@police.example"
    assert "Thursday 26 November 2026" in plain_text(at_risk)


def test_invitees_outside_the_allowed_domains_are_left_out_and_the_manager_told(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, invitees=("head@school.council.example", "someone@gmail.example"))
    deliver(bot, raw, sent)
    [event] = events(bot)
    assert "someone@gmail.example" not in event.attendees
    [confirmation] = queued_emails(bot)
    assert "someone@gmail.example" in plain_text(confirmation)
    assert "someone@gmail.example" not in (confirmation["To"] or "") + (confirmation["Cc"] or "")


def test_a_standard_request_that_reads_as_urgent_says_so_and_copies_the_unit(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    raw = request_email(sent, reason="Mother reports the children were left home alone overnight.")
    deliver(bot, raw, sent)
    [confirmation] = queued_emails(bot)
    assert confirmation["Cc"].endswith("referrals@police.example")
    text = plain_text(confirmation)
    assert "home alone" in text.lower() and "URGENT S47 ENQUIRY" in text
    assert len(events(bot)) == 1  # the bot does not change the route on its own


def test_an_oversized_message_is_quarantined_unread(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    headers = request_email(sent, message_id="<huge@council.example>").split(b"\n\n", 1)[0]
    result = bot.service.handle(IncomingMail("k", headers, sent, oversized=True), sent)
    assert result.folder is Folder.QUARANTINE and "max_message_bytes" in (result.reason or "")
    assert events(bot) == []
    [notice] = queued_emails(bot)
    assert notice["To"] == "bot.admin@police.example"


def test_a_message_that_breaks_the_service_is_quarantined_and_the_next_one_still_handled(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    templates = tmp_path / "templates"
    shutil.copytree(repo / "mail_templates", templates)
    # A deployment's edited template that names a value the bot does not provide.
    (templates / "confirmation.txt.j2").write_text("{{ no_such_value }}\n", encoding="utf-8")
    example = (repo / "config.example.toml").read_text(encoding="utf-8")
    (tmp_path / "bot.toml").write_text(f'templates_dir = "{templates}"\n' + example, encoding="utf-8")
    bot = build(load_config(tmp_path / "bot.toml"))
    try:
        sent = london("2026-11-23 09:00")
        broken = deliver(bot, request_email(sent, message_id="<breaks@council.example>"), sent)
        assert broken.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
        assert events(bot) == []  # the booking was rolled back with everything else
        urgent = request_email(sent, subject="URGENT S47 ENQUIRY N222222", message_id="<next@council.example>")
        assert deliver(bot, urgent, sent, key="k2").outcome == "processed"  # type: ignore[attr-defined]
        purposes = [
            m["Message-ID"].split(".")[1] if m["Message-ID"].startswith("<SD") else m["Message-ID"]
            for m in queued_emails(bot)
        ]
        assert any(p.startswith("<quarantine_notice") for p in purposes)
        assert "urgent_acknowledgement" in purposes and "duty_referral" in purposes
    finally:
        bot.close()


def test_history_records_each_action_without_personal_data(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    result = deliver(bot, request_email(sent, message_id="<hist@council.example>"), sent)
    with bot.store.transaction() as tx:
        entries = tx.history(result.case_id)  # type: ignore[attr-defined]
    actions = [e.action for e in entries]
    assert actions[0] == "received" and "booked" in actions and "email_queued" in actions
    assert all(e.at.tzinfo is not None for e in entries)
    assert not any("Bond" in e.detail or "neglect" in e.detail for e in entries)
    assert entries[0].message_id == "<hist@council.example>"
    assert datetime(2026, 11, 23, 9, tzinfo=UTC) == entries[0].at


def _nested(depth: int) -> bytes:
    head = (
        "From: Alex Morgan <alex.morgan@council.example>\r\nTo: referrals@police.example\r\n"
        f"Subject: Strategy discussion N146782\r\nMessage-ID: <nested-{depth}@council.example>\r\n"
        "Authentication-Results: mx.police.example; dmarc=pass header.from=council.example\r\n"
    )
    body = "N number: N146782\r\n"
    for level in range(depth):
        body = f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n{body}\r\n--b{level}--\r\n"
    return (head + "MIME-Version: 1.0\r\n" + body).encode()


def test_hostile_shapes_are_quarantined_unread(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    many_headers = request_email(sent, message_id="<headers@council.example>", extra_headers={"X-Pad": "x"})
    many_headers = b"".join(b"X-Pad-%d: x\r\n" % i for i in range(600)) + many_headers
    many_parts = (
        b"From: Alex Morgan <alex.morgan@council.example>\r\nSubject: Strategy discussion N146782\r\n"
        b"Message-ID: <parts@council.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
        + b"".join(b"--z\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(150))
        + b"--z--\r\n"
    )
    reasons = []
    for key, raw in (("h", many_headers), ("p", many_parts), ("d", _nested(40))):
        result = deliver(bot, raw, sent, key=key)
        assert result.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
        reasons.append(result.reason)  # type: ignore[attr-defined]
    assert reasons == [
        "message not read: more than 500 headers",
        "message not read: more than 100 MIME parts",
        "message not read: MIME nested more than 10 levels deep",
    ]
    assert events(bot) == []
    assert [m["To"] for m in queued_emails(bot)] == ["bot.admin@police.example"] * 3
    # A reasonable nesting is read as usual.
    assert deliver(bot, _nested(3), sent, key="ok").outcome == "processed"  # type: ignore[attr-defined]


def test_short_replies_are_rate_limited_per_sender_and_by_a_circuit_breaker(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    example = (repo / "config.example.toml").read_text(encoding="utf-8")
    (tmp_path / "bot.toml").write_text(example.replace("max_replies_per_minute = 60", "max_replies_per_minute = 12"))
    bot = build(load_config(tmp_path / "bot.toml"))
    try:
        at = london("2026-11-23 09:00")
        for i in range(12):
            raw = request_email(at, subject="Rota question", message_id=f"<loop-{i}@council.example>", body="?\n")
            deliver(bot, raw, at + timedelta(minutes=2 * i), key=f"k{i}")
        to_alex = [m for m in queued_emails(bot) if m["To"] == "alex.morgan@council.example"]
        assert len(to_alex) == 10  # the sender limit: 10 an hour
        # Another sender is still answered ...
        other = request_email(
            at, subject="Rota", sender="Jo <jo.mensah@council.example>", message_id="<jo@council.example>"
        )
        deliver(bot, other, at + timedelta(minutes=30), key="jo")
        assert queued_emails(bot)[-1]["To"] == "jo.mensah@council.example"
        # ... until a burst from many senders trips the breaker for everyone.
        burst = at + timedelta(hours=3)
        for i in range(14):
            raw = request_email(
                burst, subject="Hello", sender=f"S{i} <s{i}@council.example>", message_id=f"<b{i}@x.example>"
            )
            deliver(bot, raw, burst, key=f"b{i}")
        answered = [m for m in queued_emails(bot) if str(m["To"]).startswith("s")]
        assert len(answered) == 12
        with bot.store.transaction() as tx:
            assert tx.count_recent_emails(("triage_reply",), at) == 23
    finally:
        bot.close()


def test_a_bounce_of_our_own_mail_alerts_the_admin_and_never_opens_a_case(bot: Bot) -> None:
    sent = london("2026-11-23 09:00")
    deliver(bot, request_email(sent, message_id="<bounce-src@council.example>"), sent)
    [confirmation] = queued_emails(bot)
    ours = str(confirmation["Message-ID"])
    report = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.police.example>\r\n"
        "To: referrals@police.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.police.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.police.example\r\n\r\n"
        "Final-Recipient: rfc822; dsl@school.council.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ours}\r\nSubject: x\r\n--r--\r\n"
    ).encode()
    result = deliver(bot, report, sent + timedelta(minutes=5), key="dsn")
    assert result.outcome == "ignored" and result.case_id is None  # type: ignore[attr-defined]
    alert = queued_emails(bot)[-1]
    assert alert["To"] == "bot.admin@police.example"
    assert ours in plain_text(alert) and "SD000001" in plain_text(alert)
    with bot.store.connection() as conn:
        assert len(conn.execute(select(t.cases)).all()) == 1
