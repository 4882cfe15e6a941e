"""Classifying incoming mail (domain.md §1) and the header facts it rests on (§4.1, §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

import pytest

from bot.domain.classify import (
    Classification,
    auto_generated_reason,
    classify,
    date_header,
    is_near_miss,
    is_reply_subject,
    sender_address,
    strip_reply_prefixes,
    subject_kind,
    thread_references,
    topmost_received_time,
)
from bot.domain.dmarc import dmarc_passes
from bot.domain.model import Kind

OWN = {"referrals@police.example"}
SERVER = "mx.police.example"


def mail(*headers: tuple[str, str], subject: str = "Strategy discussion N146782") -> EmailMessage:
    """A person's request as an ``EmailMessage``; extra headers in order, a repeated name added again."""
    msg = EmailMessage()
    names = {name.lower() for name, _ in headers}
    if "from" not in names:
        msg["From"] = "Alex Morgan <alex.morgan@council.example>"
    msg["To"] = "PVP Referral Unit <referrals@police.example>"
    if "subject" not in names:
        msg["Subject"] = subject
    for name, value in headers:
        msg[name] = value
    msg.set_content("N number: N146782\n")
    return msg


def parsed(raw: str) -> EmailMessage:
    """A message as the inbox hands it over: raw bytes parsed with the modern policy."""
    msg = BytesParser(policy=default).parsebytes(raw.replace("\n", "\r\n").encode("utf-8", "surrogateescape"))
    assert isinstance(msg, EmailMessage)
    return msg


# -- subjects (§1 steps 3–5) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("URGENT S47 ENQUIRY", Kind.URGENT),
        ("URGENT S47 ENQUIRY N146782", Kind.URGENT),
        ("urgent s47 enquiry", Kind.URGENT),
        ("Urgent S47 Enquiry - N146782", Kind.URGENT),
        ("URGENT  S47   ENQUIRY", Kind.URGENT),  # runs of spaces
        ("URGENT\tS47 \u00a0ENQUIRY", Kind.URGENT),  # a tab and a no-break space, as Outlook may paste
        ("URGENT S.47 ENQUIRY", Kind.URGENT),
        ("URGENT S 47 ENQUIRY", Kind.URGENT),
        ("URGENT S. 47 ENQUIRY", Kind.URGENT),
        ("urgent s.47 enquiry", Kind.URGENT),
        ("URGENT Section 47 ENQUIRY", Kind.URGENT),
        ("urgent SECTION  47 enquiry", Kind.URGENT),
        ("N146782 Bond - URGENT S47 ENQUIRY", Kind.URGENT),  # anywhere in the subject
        ("**URGENT S47 ENQUIRY**", Kind.URGENT),
        # Both: URGENT wins, in either order.
        ("URGENT S47 ENQUIRY: strategy discussion needed", Kind.URGENT),
        ("Strategy discussion - URGENT S47 ENQUIRY", Kind.URGENT),
        # v2 leniency: punctuation between the words, INQUIRY and ENQUIRIES.
        ("URGENT: S47 ENQUIRY", Kind.URGENT),
        ("URGENT - S47 ENQUIRY N146782", Kind.URGENT),
        ("URGENT \u2013 S47 \u2013 ENQUIRY", Kind.URGENT),  # en dashes, as Outlook's AutoCorrect writes them
        ("URGENT:S47:ENQUIRY", Kind.URGENT),
        ("URGENT_S47_ENQUIRY", Kind.URGENT),
        ("URGENT / S.47 / ENQUIRY", Kind.URGENT),
        ("URGENT S-47 ENQUIRY", Kind.URGENT),
        ("URGENT S47 INQUIRY", Kind.URGENT),
        ("urgent s47 inquiry", Kind.URGENT),
        ("URGENT S47 ENQUIRIES N146782, N146783", Kind.URGENT),
        ("URGENT - Section 47 Inquiries", Kind.URGENT),
        ("URGENT: S.47 ENQUIRY", Kind.URGENT),
        ("Strategy discussion N146782", Kind.STANDARD),
        ("Strategy-discussion N146782", Kind.STANDARD),
        ("Strategy: discussion N146782", Kind.STANDARD),
        ("strategy discussion", Kind.STANDARD),
        ("STRATEGY   DISCUSSION", Kind.STANDARD),
        ("Strategy\u00a0discussion N146782", Kind.STANDARD),
        ("Request for a strategy meeting", Kind.STANDARD),
        ("STRATEGY MEETING N146782", Kind.STANDARD),
        ("Strategy discussions for the Bond children", Kind.STANDARD),
        ("Urgent: strategy discussion", Kind.STANDARD),  # "urgent" alone is not the URGENT subject
        ("URGENT S47 strategy discussion", Kind.STANDARD),
        ("URGENT S47", Kind.UNRECOGNISED),
        ("S47 enquiry", Kind.UNRECOGNISED),
        ("URGENT S477 ENQUIRY", Kind.UNRECOGNISED),
        ("URGENT S4 ENQUIRY", Kind.UNRECOGNISED),
        ("URGENTS47 ENQUIRY", Kind.UNRECOGNISED),
        ("URGENT S47 ENQUIRE", Kind.UNRECOGNISED),
        ("URGENT S47 EQUIRY", Kind.UNRECOGNISED),
        ("Strategic discussion", Kind.UNRECOGNISED),
        ("Strategydiscussion", Kind.UNRECOGNISED),
        ("Rota for next week", Kind.UNRECOGNISED),
        ("", Kind.UNRECOGNISED),
    ],
)
def test_subject_kind(subject: str, kind: Kind) -> None:
    assert subject_kind(subject) is kind


@pytest.mark.parametrize(
    ("subject", "near_miss"),
    [
        # "urgent", or S47 in any spelling, without being the URGENT subject.
        ("Urgent strategy discussion N146782", True),
        ("URGENT: strategy discussion", True),
        ("S47 N146782", True),
        ("S.47 strategy discussion N146782", True),
        ("Section 47 N146782", True),
        ("section47 enquiry", True),
        ("S 47 enquiry N146782", True),
        ("re: urgent N146782", True),
        ("RE: Urgent - please ring re N146782", True),
        ("urgent N146782 please ring", True),
        ("URGENT S47", True),
        ("URGENT S47 ENQUIRE N146782", True),
        ("URGENTS47 ENQUIRY", True),
        ("URGENT S477 ENQUIRY", True),
        ("Urgently need a strategy discussion", True),
        ("N146782 - URGENT", True),
        # The URGENT subject in any of its spellings is not a near miss: it is the real thing.
        ("URGENT S47 ENQUIRY N146782", False),
        ("URGENT: S47 ENQUIRY", False),
        ("URGENT - S47 ENQUIRY", False),
        ("Re: URGENT S.47 INQUIRY N146782", False),
        ("urgent section 47 enquiries", False),
        # Neither word.
        ("Strategy discussion N146782", False),
        ("Rota for next week", False),
        ("", False),
        # Saying it is not urgent is not a near miss; nor are words that only contain the letters.
        ("Non-urgent strategy discussion N146782", False),
        ("NON URGENT strategy discussion", False),
        ("Strategy discussion - not urgent", False),
        ("Insurgent", False),
        ("S470 form", False),
        ("N1470047 strategy discussion", False),
        ("Bus 47 timetable", False),
    ],
)
def test_near_misses(subject: str, near_miss: bool) -> None:
    assert is_near_miss(subject) is near_miss


@pytest.mark.parametrize(
    ("subject", "is_reply", "stripped"),
    [
        ("Re: Strategy discussion N146782", True, "Strategy discussion N146782"),
        ("RE: Strategy discussion", True, "Strategy discussion"),
        ("re: Strategy discussion", True, "Strategy discussion"),
        ("Fwd: URGENT S47 ENQUIRY", True, "URGENT S47 ENQUIRY"),
        ("FWD: URGENT S47 ENQUIRY", True, "URGENT S47 ENQUIRY"),
        ("FW: URGENT S47 ENQUIRY", True, "URGENT S47 ENQUIRY"),
        ("Fw: URGENT S47 ENQUIRY", True, "URGENT S47 ENQUIRY"),
        ("AW: Strategy discussion", True, "Strategy discussion"),
        ("WG: Strategy discussion", True, "Strategy discussion"),
        ("SV: Strategy discussion", True, "Strategy discussion"),
        ("RE: RE: FW: Strategy discussion", True, "Strategy discussion"),  # repeated
        ("Re[2]: Strategy discussion", True, "Strategy discussion"),
        ("RE [3]: Strategy discussion", True, "Strategy discussion"),
        ("Re:Strategy discussion", True, "Strategy discussion"),
        ("  RE :  Strategy discussion", True, "Strategy discussion"),
        # Gateway tags around the prefix are part of it.
        ("[EXTERNAL] RE: Strategy discussion N146782", True, "Strategy discussion N146782"),
        ("RE: [EXTERNAL] Strategy discussion N146782", True, "Strategy discussion N146782"),
        # Not replies: nothing is stripped.
        ("Strategy discussion N146782", False, "Strategy discussion N146782"),
        ("[EXTERNAL] Strategy discussion N146782", False, "[EXTERNAL] Strategy discussion N146782"),
        ("Referral: Strategy discussion", False, "Referral: Strategy discussion"),
        ("Reply needed: Strategy discussion", False, "Reply needed: Strategy discussion"),
        ("Strategy discussion RE: N146782", False, "Strategy discussion RE: N146782"),
        ("Forward planning", False, "Forward planning"),
        ("", False, ""),
    ],
)
def test_reply_prefixes(subject: str, is_reply: bool, stripped: str) -> None:
    assert is_reply_subject(subject) is is_reply
    assert strip_reply_prefixes(subject) == stripped


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), []),
        ((("In-Reply-To", "<a@police.example>"),), ["<a@police.example>"]),
        (
            (("In-Reply-To", "<b@council.example>"), ("References", "<a@police.example> <b@council.example>")),
            ["<b@council.example>", "<a@police.example>"],
        ),
        (
            (("References", "<a@x.example>  <b@x.example>\t<c@x.example>"),),
            ["<a@x.example>", "<b@x.example>", "<c@x.example>"],
        ),
        ((("References", "<a@x.example> <a@x.example>"),), ["<a@x.example>"]),
        ((("In-Reply-To", "a@police.example"),), ["<a@police.example>"]),  # brackets dropped by the client
        ((("In-Reply-To", "<a@x.example> (Alex Morgan's message of Monday)"),), ["<a@x.example>"]),
        ((("In-Reply-To", "nonsense"),), []),
    ],
)
def test_thread_references(headers: tuple[tuple[str, str], ...], expected: list[str]) -> None:
    assert thread_references(mail(*headers)) == expected


def test_thread_references_of_folded_headers_as_they_arrive() -> None:
    raw = (
        "From: alex.morgan@council.example\nSubject: RE: x\n"
        "In-Reply-To:\n <c@police.example>\n"
        "References: <a@police.example>\n <b@council.example>\n\t<c@police.example>\n\nbody\n"
    )
    assert thread_references(parsed(raw)) == ["<c@police.example>", "<a@police.example>", "<b@council.example>"]


# -- mail not to act on (§1 step 1) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ((("Auto-Submitted", "auto-replied"),), "auto-submitted: auto-replied"),
        ((("Auto-Submitted", "auto-generated"),), "auto-submitted: auto-generated"),
        ((("Auto-Submitted", "Auto-Replied; owner-email=alex@council.example"),), "auto-submitted: auto-replied"),
        ((("Auto-Submitted", "auto-notified"),), "auto-submitted: auto-notified"),
        ((("Auto-Submitted", "nonsense"),), "auto-submitted: nonsense"),  # anything but "no"
        ((("Auto-Submitted", ""),), "auto-submitted: (empty)"),
        ((("Precedence", "bulk"),), "precedence: bulk"),
        ((("Precedence", "junk"),), "precedence: junk"),
        ((("Precedence", "List"),), "precedence: list"),
        ((("List-Id", "<staff.council.example>"),), "mailing list"),
        ((("List-Unsubscribe", "<mailto:leave@lists.council.example>"),), "mailing list"),
        ((("List-Post", "<mailto:staff@lists.council.example>"),), "mailing list"),
        ((("From", "MAILER-DAEMON@council.example"),), "delivery status report"),
        ((("From", "Mail Delivery System <Mailer-Daemon@mx.council.example>"),), "delivery status report"),
        ((("From", "postmaster@council.example"),), "delivery status report"),
        ((("X-Autoreply", "yes"),), "out-of-office reply"),
        ((("X-Autorespond", "yes"),), "out-of-office reply"),
        ((("Subject", "Automatic reply: Strategy discussion N146782"),), "out-of-office reply"),
        ((("Subject", "Auto reply: Strategy discussion N146782"),), "out-of-office reply"),
        ((("Subject", "Auto-Reply: Strategy discussion"),), "out-of-office reply"),
        ((("Subject", "Out of Office: Strategy discussion N146782"),), "out-of-office reply"),
        ((("Subject", "Out of office reply"),), "out-of-office reply"),
        ((("Subject", "Autosvar: Strategy discussion"),), "out-of-office reply"),
        ((("Subject", "Abwesenheitsnotiz: Strategy discussion"),), "out-of-office reply"),
        ((("Return-Path", "<>"),), "empty return path"),
        ((("From", "Referral Unit <referrals@police.example>"),), "from the bot's own address"),
        ((("From", "REFERRALS@Police.Example"),), "from the bot's own address"),
        ((("X-Loop", "referrals@police.example"),), "x-loop: ours"),
        ((("X-Loop", "<Referrals@police.example>"),), "x-loop: ours"),
    ],
)
def test_auto_generated_mail_is_never_acted_on(headers: tuple[tuple[str, str], ...], reason: str) -> None:
    msg = mail(*headers)
    assert auto_generated_reason(msg, OWN) == reason
    verdict = classify(msg, OWN)
    assert verdict.kind is Kind.AUTO and verdict.auto_reason == reason


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (("Auto-Submitted", "no"),),
        (("Auto-Submitted", "No (sent by a person)"),),
        (("Precedence", "first-class"),),
        # Outlook sets this on ordinary mail: a person's request must not be ignored for it.
        (("X-Auto-Response-Suppress", "All"),),
        (("Subject", "Out of office hours strategy discussion N146782"),),
        (("Subject", "RE: Automatic reply: Strategy discussion"),),  # a person answering one
        (("Return-Path", "<alex.morgan@council.example>"),),
        (("X-Loop", "someone-else@council.example"),),
        (("X-Loop", "xreferrals@police.example"),),
        (("From", "Post Master <p.master@council.example>"),),
        # A manager's request forwarded to the inbox by an Outlook rule.
        (("X-MS-Exchange-Inbox-Rules-Loop", "alex.morgan@council.example"),),
        (("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),),
    ],
)
def test_a_person_s_mail_is_not_auto_generated(headers: tuple[tuple[str, str], ...]) -> None:
    msg = mail(*headers)
    assert auto_generated_reason(msg, OWN) is None
    assert classify(msg, OWN).kind is not Kind.AUTO


BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@mx.council.example>
To: referrals@police.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Return-Path: <>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.council.example

Final-Recipient: rfc822; gone@council.example
Action: failed
Status: 5.1.1
--b1
Content-Type: text/rfc822-headers

Message-ID: <ack.1@police.example>
--b1--
"""

READ_RECEIPT = """\
From: Alex Morgan <alex.morgan@council.example>
To: referrals@police.example
Subject: Read: Strategy discussion N146782
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="b2"

--b2
Content-Type: text/plain

Your message was read.
--b2
Content-Type: message/disposition-notification

Final-Recipient: rfc822; alex.morgan@council.example
Disposition: manual-action/MDN-sent-manually; displayed
--b2--
"""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # Named a delivery report although it is also auto-submitted with an empty return
        # path: the service tells the administrator about bounces by this reason.
        (BOUNCE, "delivery status report"),
        # A report part alone is enough, whoever it claims to be from.
        (BOUNCE.replace("MAILER-DAEMON@mx.council.example", "gateway@council.example"), "delivery status report"),
        (READ_RECEIPT, "read receipt"),
    ],
)
def test_delivery_reports_and_read_receipts(raw: str, reason: str) -> None:
    msg = parsed(raw)
    assert auto_generated_reason(msg, OWN) == reason
    assert classify(msg, OWN).kind is Kind.AUTO


# -- classify (§1) ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), Classification(Kind.STANDARD, False, None)),
        ((("Subject", "URGENT S47 ENQUIRY N146782"),), Classification(Kind.URGENT, False, None)),
        ((("Subject", "Minutes for Monday"),), Classification(Kind.UNRECOGNISED, False, None)),
        ((("Subject", "RE: Strategy discussion N146782"),), Classification(Kind.STANDARD, True, None)),
        ((("Subject", "FW: URGENT S47 ENQUIRY N146782"),), Classification(Kind.URGENT, True, None)),
        ((("Subject", "AW: Hello"),), Classification(Kind.UNRECOGNISED, True, None)),
        ((("In-Reply-To", "<ack.1@police.example>"),), Classification(Kind.STANDARD, True, None)),
        (
            (("Subject", "CONTACTED"), ("References", "<ack.1@police.example>")),
            Classification(Kind.UNRECOGNISED, True, None),
        ),
        # An out-of-office answer in a case's thread is still only an out-of-office answer.
        (
            (("Subject", "Automatic reply: Strategy discussion N146782"), ("In-Reply-To", "<ack.1@police.example>")),
            Classification(Kind.AUTO, True, "out-of-office reply"),
        ),
    ],
)
def test_classify(headers: tuple[tuple[str, str], ...], expected: Classification) -> None:
    assert classify(mail(*headers), OWN) == expected


def test_classify_reads_an_encoded_subject() -> None:
    msg = parsed(
        "From: alex.morgan@council.example\nSubject: =?utf-8?q?URGENT_S47_ENQUIRY_=E2=80=93_N146782?=\n\nbody\n"
    )
    assert classify(msg, OWN) == Classification(Kind.URGENT, False, None)


# -- dates (§4.1) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 23 Nov 2026 14:02:00 +0000", datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 15:02:00 +0100", datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),
        ("23 Nov 2026 14:02 GMT", datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),
        ("Mon, 23 Nov 26 14:02:00 +0000", datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),  # two-digit year
        ("Mon, 23 Nov 2026 14:02:00 +0000 (GMT Standard Time)", datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),
        # "-0000": UTC, the sender's own zone unknown (RFC 5322 §3.3).
        ("Mon, 23 Nov 2026 14:02:00 -0000", datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 14:02:00", None),  # no zone: the instant cannot be known
        ("garbage", None),
        ("", None),
        ("Mon, 32 Nov 2026 14:02:00 +0000", None),
        ("Mon, 23 Nov 2026 25:02:00 +0000", None),
        ("Fri, 31 Dec 9999 23:59:59 -1200", None),  # cannot be moved to UTC
        ("Mon, 23 Nov 2026 14:02:00 +9999", None),
        ("Mon, 23 Nov 2026 14:02:00 +0000" + " x" * 500, None),
        ("\udcff\udcfe 23 Nov 2026", None),  # bytes that are not text
    ],
)
def test_date_header(value: str, expected: datetime | None) -> None:
    msg = parsed(f"From: alex.morgan@council.example\nDate: {value}\nSubject: x\n\nbody\n")
    found = date_header(msg)
    assert found == expected
    assert found is None or found.utcoffset() is not None


def test_date_header_missing_and_set_by_code() -> None:
    assert date_header(mail()) is None
    msg = mail(("Date", "Mon, 23 Nov 2026 15:02:00 +0100"))
    assert date_header(msg) == datetime(2026, 11, 23, 15, 2, tzinfo=timezone(timedelta(hours=1)))


RECEIVED_AT = datetime(2026, 11, 23, 14, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # The first (topmost) Received header is the inbox's own server.
        (
            [
                "from relay.council.example by mx.police.example; Mon, 23 Nov 2026 14:20:00 +0000",
                "from pc.council.example by relay.council.example; Mon, 23 Nov 2026 14:05:00 +0000",
            ],
            RECEIVED_AT,
        ),
        # The date follows the last ";" even when an earlier clause has one.
        (["from a (x; y) by mx.police.example id 4Q; Mon, 23 Nov 2026 14:20:00 +0000 (UTC)"], RECEIVED_AT),
        (["from a by mx.police.example with ESMTPS id 4Q;\n Mon, 23 Nov 2026 14:20:00 +0000"], RECEIVED_AT),
        (["from a by mx.police.example; Mon, 23 Nov 2026 15:20:00 +0100"], RECEIVED_AT),
        (["from a by mx.police.example"], None),  # no date at all
        (["from a by mx.police.example; not a date", "from b by c; Mon, 23 Nov 2026 14:05:00 +0000"], None),
        ([], None),
    ],
)
def test_topmost_received_time(received: list[str], expected: datetime | None) -> None:
    raw = "".join(f"Received: {value}\n" for value in received) + "From: a@council.example\nSubject: x\n\nbody\n"
    assert topmost_received_time(parsed(raw)) == expected


# -- the sender (§7) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_lines", "expected"),
    [
        (["Alex Morgan <Alex.Morgan@Council.example>"], ("Alex Morgan", "alex.morgan@council.example")),
        (["alex.morgan@council.example"], (None, "alex.morgan@council.example")),
        (["<alex.morgan@council.example>"], (None, "alex.morgan@council.example")),
        (['"Morgan, Alex" <alex.morgan@council.example>'], ("Morgan, Alex", "alex.morgan@council.example")),
        (["Alex J. Morgan <alex.morgan@council.example>"], ("Alex J. Morgan", "alex.morgan@council.example")),
        # Outlook often repeats the address as the display name.
        (
            ['"alex.morgan@council.example" <alex.morgan@council.example>'],
            ("alex.morgan@council.example", "alex.morgan@council.example"),
        ),
        # A name written as another address is dropped; the bracketed address is the sender (issue 19).
        (['"b@council.example" <c@evil.example>'], (None, "c@evil.example")),
        (["Alex <alex.morgan@council.example> "], ("Alex", "alex.morgan@council.example")),
        # Group syntax names no sender of its own.
        (["x: alex.morgan@council.example;"], (None, None)),
        (
            ["=?utf-8?q?Si=C3=A2n_Jones?= <sian.jones@council.example>"],
            ("Siân Jones", "sian.jones@council.example"),
        ),
        (["Alex Morgan <alex.morgan@council.example> (Team Manager)"], ("Alex Morgan", "alex.morgan@council.example")),
        # Not exactly one well-formed address.
        ([], (None, None)),
        (["alex.morgan@council.example", "sam@council.example"], (None, None)),  # two From headers
        (["a@council.example, b@council.example"], (None, None)),
        (["Morgan, Alex <alex.morgan@council.example>"], (None, None)),  # the comma makes two
        (['"Alex" <alex@council.example>@evil.example'], (None, None)),
        (["alice@council.example)<bob@evil.example>"], (None, None)),
        (["a@b@council.example"], (None, None)),
        (['"a@b"@council.example'], (None, None)),
        (['"john doe"@council.example'], (None, None)),
        (["not an address"], (None, None)),
        (["<>"], (None, None)),
        (["alex@localhost"], (None, None)),
        (["undisclosed-recipients:;"], (None, None)),
        (["Alex <alex@council..example>"], (None, None)),
        (["Alex <alex@council.example"], (None, None)),  # unclosed
        (["<alex@council.example> <bob@evil.example>"], (None, None)),
        (['Alex <"bob@evil.example"@council.example>'], (None, None)),
    ],
)
def test_exactly_one_well_formed_sender(from_lines: list[str], expected: tuple[str | None, str | None]) -> None:
    raw = "".join(f"From: {line}\n" for line in from_lines) + "Subject: x\n\nhello\n"
    assert sender_address(parsed(raw)) == expected


def test_sender_of_a_message_built_in_code() -> None:
    msg = EmailMessage()
    msg["From"] = '"Morgan, Siân" <Sian.Morgan@council.example>'
    assert sender_address(msg) == ("Morgan, Siân", "sian.morgan@council.example")


# -- DMARC (§7) ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "passes"),
    [
        (
            [f"{SERVER}; spf=pass smtp.mailfrom=council.example; dkim=pass; dmarc=pass header.from=council.example"],
            True,
        ),
        ([f"{SERVER}; dmarc=pass header.from=council.example"], True),
        ([f"{SERVER}; DMARC=Pass (p=reject) header.from=council.example"], True),
        ([f"{SERVER}; dmarc = pass header.from = Council.Example."], True),
        ([f"{SERVER} 1; dmarc=pass header.from=council.example"], True),  # an authserv-id may carry a version
        (["MX.Police.Example; dmarc=pass header.from=council.example"], True),  # case-insensitive
        ([f"  {SERVER}  ; dmarc=pass header.from=council.example"], True),
        # DMARC vouches for the domain its header.from names, which must be the From's (issue 19).
        ([f"{SERVER}; dmarc=pass header.from=evil.example"], False),
        ([f"{SERVER}; dmarc=pass header.from=school.council.example"], False),
        ([f"{SERVER}; dmarc=pass header.from=council.example.evil"], False),
        ([f"{SERVER}; dmarc=pass"], False),  # vouches for no domain
        ([f"{SERVER}; dmarc=pass header.from=evil.example; dmarc=pass header.from=council.example"], True),
        ([f"{SERVER}; dmarc=fail header.from=council.example"], False),
        ([f"{SERVER}; dmarc=none"], False),
        ([f"{SERVER}; dmarc=bestguesspass header.from=council.example"], False),
        ([f"{SERVER}; spf=pass; dkim=pass"], False),  # no DMARC result at all
        ([f"{SERVER}"], False),
        ([f"{SERVER}; none"], False),
        # Exchange Online's composite authentication.
        ([f"{SERVER}; spf=pass; dkim=none; dmarc=none header.from=council.example; compauth=pass reason=109"], True),
        ([f"{SERVER}; dmarc=none action=none header.from=council.example; compauth=pass reason=100"], True),
        ([f"{SERVER}; dmarc=none header.from=council.example; compauth=pass reason=701"], True),
        ([f"{SERVER}; dmarc=none header.from=evil.example; compauth=pass reason=100"], False),
        ([f"{SERVER}; compauth=pass reason=100"], False),
        ([f"{SERVER}; dmarc=none; compauth=pass reason=000"], False),
        ([f"{SERVER}; dmarc=none; compauth=pass reason=601"], False),
        ([f"{SERVER}; dmarc=none; compauth=pass"], False),
        ([f"{SERVER}; dmarc=fail; compauth=fail reason=001"], False),
        ([f"{SERVER}; compauth=softpass reason=201"], False),
        # Another server's word counts for nothing.
        (["mx.attacker.example; dmarc=pass header.from=council.example"], False),
        ([f"{SERVER}.attacker.example; dmarc=pass"], False),
        ([f"evil.example {SERVER}; dmarc=pass"], False),
        ([f"{SERVER} evil; dmarc=pass"], False),
        (["mx.attacker.example; dmarc=pass", f"{SERVER}; dmarc=fail"], False),
        (["mx.attacker.example; dmarc=fail", f"{SERVER}; dmarc=pass header.from=council.example"], True),
        # The receiving server's own header is the topmost with its id; one below it
        # claiming the same id was written by the sender.
        ([f"{SERVER}; dmarc=fail header.from=council.example", f"{SERVER}; dmarc=pass"], False),
        ([f"{SERVER}; dmarc=pass header.from=council.example", f"{SERVER}; dmarc=fail"], True),
        # Results are read at the start of each result, never from values, comments or quotes.
        ([f"{SERVER}; spf=pass smtp.mailfrom=dmarc=pass@evil.example; dmarc=fail"], False),
        ([f"{SERVER}; spf=pass smtp.mailfrom=x.dmarc=pass@evil.example"], False),
        ([f"{SERVER}; dmarc=fail (dmarc=pass)"], False),
        ([f"{SERVER}; dmarc=fail (was; dmarc=pass )"], False),
        ([f'{SERVER}; spf=pass smtp.mailfrom="a; dmarc=pass x"@evil.example; dmarc=fail'], False),
        ([f"{SERVER}; dmarc=none; compauth=pass reason=601 smtp.mailfrom=reason=100@evil.example"], False),
        ([], False),
    ],
)
def test_dmarc_is_read_only_from_the_trusted_server(results: list[str], passes: bool) -> None:
    msg = mail(*(("Authentication-Results", value) for value in results))
    assert dmarc_passes(msg, SERVER) is passes


def test_dmarc_from_a_real_inbox_copy() -> None:
    raw = (
        "Received: from mail.council.example by mx.police.example; Wed, 25 Nov 2026 12:20:00 +0000\n"
        "Authentication-Results: mx.police.example; spf=pass\n"
        " smtp.mailfrom=council.example; dkim=pass header.d=council.example; dmarc=pass\n"
        " header.from=council.example\n"
        "From: Alex Morgan <alex.morgan@council.example>\n"
        "Subject: Strategy discussion N146782\n\nbody\n"
    )
    assert dmarc_passes(parsed(raw), SERVER)
    assert not dmarc_passes(parsed(raw), "mx.other.example")
    assert not dmarc_passes(parsed(raw), "")
