"""Issue 6, "done when": forged, looping, oversized and malformed mail, all delivered together.

None of it gets a reply to the sender it claims, none of it books anything, and each message
ends with exactly one record: quarantined (and the administrator told) or ignored. A second
delivery of the whole corpus changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.adapters import sql_schema as t
from bot.config import Config
from bot.ports import IncomingMail
from bot.wiring import Bot, build
from tests.support.requests_mail import london, plain_text, queued_emails, request_email

SENT = london("2026-11-23 09:00")
ADMIN = "bot.admin@police.example"
REPORT = "mx.police.example; dmarc=pass header.from=council.example"


def _with_header(raw: bytes, header: str) -> bytes:
    return header.encode() + b"\r\n" + raw


def _replace_from(raw: bytes, line: bytes) -> bytes:
    head, body = raw.split(b"\n\n", 1)
    lines = [line if existing.startswith(b"From:") else existing for existing in head.split(b"\n")]
    return b"\n".join(lines) + b"\n\n" + body


def _request(n: int, **kwargs: object) -> bytes:
    return request_email(SENT, message_id=f"<corpus.{n}@council.example>", **kwargs)  # type: ignore[arg-type]


def _bounce() -> bytes:
    """A delivery status report without Auto-Submitted, as some servers send them."""
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.elsewhere.example>\r\n"
        b"To: referrals@police.example\r\nSubject: Undeliverable: Strategy discussion N146782\r\n"
        b"Message-ID: <corpus.dsn@mx.elsewhere.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type="delivery-status"; boundary=r\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.elsewhere.example\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@elsewhere.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--r--\r\n"
    )


def _nested(depth: int) -> bytes:
    body = "N number: N146782\r\n"
    for level in range(depth):
        body = f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n{body}\r\n--b{level}--\r\n"
    head = (
        "From: Alex Morgan <alex.morgan@council.example>\r\nSubject: Strategy discussion N146782\r\n"
        f"Message-ID: <corpus.nested@council.example>\r\nAuthentication-Results: {REPORT}\r\nMIME-Version: 1.0\r\n"
    )
    return (head + body).encode()


# name, raw, oversized, the record it must end with
CORPUS: list[tuple[str, bytes, bool, str]] = [
    # forged
    ("outside domain", _request(1, sender="Eve <eve@elsewhere.example>"), False, "quarantine"),
    ("dmarc fail", _request(2, auth="mx.police.example; dmarc=fail header.from=council.example"), False, "quarantine"),
    ("another server's verdict", _request(3, auth=REPORT.replace("mx.police", "mx.attacker")), False, "quarantine"),
    ("no verdict at all", _request(4, auth=None), False, "quarantine"),
    (
        "quoted local part (CVE-2023-27043)",
        _replace_from(_request(5), b'From: "alex.morgan@council.example"@evil.example'),
        False,
        "quarantine",
    ),
    (
        "two addresses in From",
        _replace_from(_request(6), b"From: eve@evil.example, alex.morgan@council.example"),
        False,
        "quarantine",
    ),
    ("two From headers", _with_header(_request(7), "From: Eve <eve@evil.example>"), False, "quarantine"),
    (
        "urgent from outside, replies asked elsewhere",
        _request(
            8,
            subject="URGENT S47 ENQUIRY N311907",
            sender="Eve <eve@evil.example>",
            extra_headers={"Reply-To": "alex.morgan@council.example"},
        ),
        False,
        "quarantine",
    ),  # fmt: skip
    ("unknown subject from outside", _request(9, subject="Invoice 4411", sender="x@evil.example"), False, "quarantine"),
    # looping
    ("auto-submitted", _request(10, extra_headers={"Auto-Submitted": "auto-replied"}), False, "ignored"),
    ("precedence bulk", _request(11, extra_headers={"Precedence": "bulk"}), False, "ignored"),
    ("mailing list", _request(12, extra_headers={"List-Id": "<safeguarding.lists.example>"}), False, "ignored"),
    ("our own X-Loop", _request(13, extra_headers={"X-Loop": "referrals@police.example"}), False, "ignored"),
    ("delivery report", _bounce(), False, "ignored"),
    ("Outlook out of office", _request(14, subject="Automatic reply: Strategy discussion N146782"), False, "ignored"),
    ("Gmail vacation", _request(15, extra_headers={"X-Autoreply": "yes"}), False, "ignored"),
    ("empty return path", _with_header(_request(16), "Return-Path: <>"), False, "ignored"),
    ("from ourselves", _request(17, sender="Strategy bot <referrals@police.example>"), False, "ignored"),
    # oversized: only the headers were fetched
    ("oversized", _request(18).split(b"\n\n", 1)[0] + b"\n\n", True, "quarantine"),
    # malformed
    ("600 headers", b"".join(b"X-Pad-%d: x\r\n" % i for i in range(600)) + _request(19), False, "quarantine"),
    ("nested 40 deep", _nested(40), False, "quarantine"),
    ("not mail at all", bytes(range(256)) * 8, False, "quarantine"),
    ("no From", _replace_from(_request(20), b"X-No-From: 1"), False, "quarantine"),
    (
        "header injection in From",
        _replace_from(_request(21), b"From: eve@evil.example\r\x00Bcc: x@y"),
        False,
        "quarantine",
    ),
]


def _deliver_all(bot: Bot) -> dict[str, str]:
    outcomes = {}
    for n, (name, raw, oversized, _outcome) in enumerate(CORPUS):
        outcomes[name] = bot.service.handle(IncomingMail(f"k{n}", raw, SENT, oversized=oversized), SENT).outcome
    return outcomes


def test_a_corpus_of_hostile_mail_gets_no_reply_no_booking_and_one_record_each(bot: Bot) -> None:
    assert _deliver_all(bot) == {name: outcome for name, _, _, outcome in CORPUS}

    with bot.store.connection() as conn:
        records = conn.execute(select(t.messages.c.outcome, t.messages.c.reason)).all()
        cases = conn.execute(select(t.cases.c.case_id)).all()
        bookings = conn.execute(select(t.bookings.c.uid)).all()
    expected = sorted(outcome for *_, outcome in CORPUS)
    assert sorted(outcome for outcome, _ in records) == expected  # one record each, the right one
    assert cases == [] and bookings == []
    assert bot.calendar.events(london("2026-11-23 00:00"), london("2027-01-01 00:00")) == []

    sent = queued_emails(bot)
    assert {str(m["To"]) for m in sent} == {ADMIN}  # no claimed sender hears anything
    assert not any(m["Cc"] or m["Bcc"] for m in sent)
    quarantined = [reason for outcome, reason in records if outcome == "quarantine"]
    assert len(sent) == len(quarantined)  # the administrator is told of each, once
    assert all(reason for reason in quarantined)

    _deliver_all(bot)  # the same mail again: recognised, nothing more
    with bot.store.connection() as conn:
        assert len(conn.execute(select(t.messages.c.message_id)).all()) == len(CORPUS)
    assert len(queued_emails(bot)) == len(sent)


def test_a_trusted_request_with_a_reply_to_elsewhere_is_answered_at_its_from(bot: Bot) -> None:
    raw = _request(30, extra_headers={"Reply-To": "eve@evil.example"})
    result = bot.service.handle(IncomingMail("r", raw, SENT), SENT)
    assert result.outcome == "processed"
    recipients = {addr for m in queued_emails(bot) for addr in str(m["To"]).split(", ")}
    assert "alex.morgan@council.example" in recipients and "eve@evil.example" not in recipients


def test_a_forged_reply_in_a_case_s_thread_is_quarantined_and_shows_in_its_history(bot: Bot) -> None:
    opened = bot.service.handle(IncomingMail("a", _request(40), SENT), SENT)
    forged = request_email(
        SENT,
        subject="RE: Strategy discussion N146782",
        sender="Alex Morgan <alex.morgan@council.example>",
        auth="mx.police.example; dmarc=fail header.from=council.example",
        message_id="<corpus.forged-cancel@evil.example>",
        in_reply_to=f"<{opened.case_id}.confirmation.1@police.example>",
        body="CANCEL\n",
    )
    result = bot.service.handle(IncomingMail("b", forged, SENT), SENT)
    assert result.outcome == "quarantine" and result.case_id == opened.case_id
    with bot.store.transaction() as tx:
        entries = tx.history(opened.case_id or "")
        booking = tx.booking_for(opened.case_id or "")
    assert booking is not None and booking.status == "booked"  # the forged CANCEL did nothing
    assert [e.message_id for e in entries if e.action == "quarantined"] == ["<corpus.forged-cancel@evil.example>"]


def test_a_flood_of_bad_mail_sends_a_few_notices_then_one_alert_and_keeps_every_message(config: Config) -> None:
    flooded = build(replace(config, trust=replace(config.trust, max_quarantine_notices_per_hour=3)))
    try:
        forged = [_request(50 + n, sender=f"Eve <eve{n}@evil.example>") for n in range(7)]
        outcomes = [
            flooded.service.handle(IncomingMail(f"f{n}", raw, SENT), SENT).outcome for n, raw in enumerate(forged)
        ]
        sent = queued_emails(flooded)
        later = SENT + timedelta(hours=1, minutes=1)
        flooded.service.handle(IncomingMail("g", _request(60, sender="Eve <eve@evil.example>"), later), later)
        after_the_hour = queued_emails(flooded, after=len(sent))
    finally:
        flooded.close()
    assert outcomes == ["quarantine"] * 7
    subjects = [str(m["Subject"]) for m in sent]
    assert len([s for s in subjects if s.startswith("Quarantined")]) == 3
    assert subjects[3:] == ["Many messages are being quarantined: notices held back for this hour"]
    assert {str(m["To"]) for m in sent} == {ADMIN}
    assert "trust.max_quarantine_notices_per_hour" in plain_text(sent[3])
    assert [str(m["Subject"]).startswith("Quarantined") for m in after_the_hour] == [True]  # a new hour
