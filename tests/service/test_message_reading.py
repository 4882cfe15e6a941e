"""read_message: each message parsed once, read as the service read it when it parsed the message itself.

The oracle below is the service's own reading as it stood before the reading moved into the
time-limited reader: the same domain calls on the parsed message, made where the service
made them. Every example and fixture email must read the same both ways, and survive the
trip from the worker process (pickling).
"""

from __future__ import annotations

import email
import email.policy
import pickle
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.domain.classify import classify, date_header, sender_address, thread_references
from bot.domain.commands import Command, read_command
from bot.domain.dmarc import dmarc_passes
from bot.domain.message_text import message_text
from bot.domain.model import Kind
from bot.domain.quoted_text import strip_quoted
from bot.domain.request_reading import read_request
from bot.domain.urgent_screening import screen_urgent_indicators
from bot.mail.reading import MessageReading, ReadingLimits, read_message
from tests.support.requests_mail import london, request_email

REPO = Path(__file__).resolve().parents[2]
EMAILS = sorted((REPO / "examples").glob("*.eml")) + sorted((REPO / "tests" / "fixtures" / "eml").glob("*.eml"))
OWN = frozenset({"referrals@police.example", "strategy-bot@police.example"})
LIMITS = ReadingLimits(max_headers=500, max_mime_parts=100, max_mime_depth=10)
SENT = london("2026-11-23 09:00")
SERVERS = ("mx.police.example", " MX.Police.Example ", "mx.council.example", "police.example", "")


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def as_the_service_read_it(raw: bytes) -> dict[str, Any]:
    """What the service took from a message when it parsed it itself, field by field."""
    msg = parse(raw)
    value = "".join(ch for ch in str(msg.get("Message-ID", "") or "").strip() if ch.isprintable() and not ch.isspace())
    facts: dict[str, Any] = {"message_id": (value if value.startswith("<") else f"<{value.strip('<>')}>") or None}
    verdict = classify(msg, OWN)
    facts["verdict"] = verdict
    if verdict.kind is Kind.AUTO:
        return facts
    facts["sender"] = sender_address(msg)
    facts["thread_references"] = tuple(thread_references(msg))
    facts["subject"] = str(msg.get("Subject", ""))
    facts["date_header"] = date_header(msg)
    facts["dmarc"] = {server: dmarc_passes(msg, server) for server in SERVERS}
    plain = message_text(msg).plain
    if verdict.kind in (Kind.URGENT, Kind.STANDARD):
        request = read_request(msg, verdict.kind)
        facts["request"] = request
        facts["urgent_indicators"] = tuple(screen_urgent_indicators("\n".join(filter(None, [request.reason, plain]))))
    if verdict.is_reply:
        top = strip_quoted(plain)
        facts["top"] = top
        facts["command"] = read_command(top)
        above = EmailMessage()
        for header in ("From", "Subject"):
            if msg.get(header):
                above[header] = str(msg[header])
        above.set_content(top or "\n")
        # The service read a reply as its case's kind; either kind reads the same.
        facts["reply_request"] = {kind: read_request(above, kind) for kind in (Kind.URGENT, Kind.STANDARD)}
        facts["has_attachment"] = any(part.get_filename() for part in msg.walk() if not part.is_multipart())
    return facts


def as_read_once(reading: MessageReading) -> dict[str, Any]:
    facts: dict[str, Any] = {"message_id": reading.message_id, "verdict": reading.verdict}
    if reading.verdict.kind is Kind.AUTO:
        return facts
    facts["sender"] = (reading.sender_name, reading.sender_address)
    facts["thread_references"] = reading.thread_references
    facts["subject"] = reading.subject
    facts["date_header"] = reading.date_header
    facts["dmarc"] = {server: reading.dmarc_passes(server) for server in SERVERS}
    if reading.verdict.kind in (Kind.URGENT, Kind.STANDARD):
        facts["request"] = reading.request
        facts["urgent_indicators"] = reading.urgent_indicators
    if reading.verdict.is_reply:
        facts["top"] = reading.top
        facts["command"] = reading.command
        facts["reply_request"] = {kind: reading.reply_request for kind in (Kind.URGENT, Kind.STANDARD)}
        facts["has_attachment"] = reading.has_attachment
    return facts


@pytest.mark.parametrize("path", EMAILS, ids=[p.name for p in EMAILS])
def test_each_example_reads_once_as_the_service_read_it(path: Path) -> None:
    raw = path.read_bytes()
    reading = read_message(raw, OWN, LIMITS)
    assert as_read_once(reading) == as_the_service_read_it(raw)
    assert reading.too_complex is None
    # What the worker process sends back is what it read.
    assert pickle.loads(pickle.dumps(reading)) == reading


# What the admin and the managers see of each example: its route, who sent it, the N numbers
# and what is missing, a reply's command word, and the urgent threshold screening.
EXPECTED = {
    "01-standard-plain.eml": ("standard", "alex.morgan@council.example", ("N146782",), [], None, ()),
    "03-urgent-s47.eml": ("urgent", "chris.adeyemi@council.example", ("N311907",), [], None, ("non_mobile_injury",)),
    "04-standard-complex-siblings.eml": (
        "standard",
        "morgan.reid@council.example",
        ("N402210", "N402211", "N402212"),
        [],
        None,
        (),
    ),
    "05-standard-missing-fields.eml": (
        "standard",
        "jo.mensah@council.example",
        ("N518833",),
        ["surname", "contact_number"],
        None,
        (),
    ),
    "06-standard-windows-1252-base64.eml": ("standard", "sian.obrien@council.example", ("N620144",), [], None, ()),
    "07-unrecognised.eml": ("unrecognised", "pat.kowalski@council.example", None, None, None, ()),
    "08-out-of-office.eml": ("auto", None, None, None, None, ()),
    "09-standard-urgent-indicators.eml": (
        "standard",
        "alex.morgan@council.example",
        ("N733090",),
        [],
        None,
        ("home_alone",),
    ),
    # Read as a request too, for when no open case claims the reply.
    "11-reply-contacted.eml": (
        "urgent",
        "sam.carver@police.example",
        ("N311907",),
        ["contact_number", "reason"],
        "CONTACTED",
        (),
    ),
    "html-only-base64.eml": ("standard", "morgan.reid@council.example", ("N700001",), [], None, ("sexual_abuse",)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_examples_read_as_their_senders_meant(name: str) -> None:
    kind, sender, n_numbers, missing, command, indicators = EXPECTED[name]
    path = next(p for p in EMAILS if p.name == name)
    reading = read_message(path.read_bytes(), OWN, LIMITS)
    assert reading.verdict.kind.value == kind
    assert reading.sender_address == sender
    assert (reading.request.n_numbers if reading.request else None) == n_numbers
    assert (reading.request.missing(reading.verdict.kind) if reading.request else None) == missing
    assert (reading.command.word if isinstance(reading.command, Command) else None) == command
    assert reading.urgent_indicators == indicators


def test_a_reply_supplies_what_was_missing_from_above_the_quote() -> None:
    path = next(p for p in EMAILS if p.name == "12-reply-missing-fields.eml")
    reading = read_message(path.read_bytes(), OWN, LIMITS)
    assert reading.verdict.is_reply and reading.command is None
    assert reading.reply_request is not None
    assert reading.reply_request.surname and reading.reply_request.requester.phone
    assert "Original Message" not in reading.top and reading.top in reading.plain


def test_automatic_mail_is_read_no_further_than_its_verdict() -> None:
    path = next(p for p in EMAILS if p.name == "08-out-of-office.eml")
    reading = read_message(path.read_bytes(), OWN, LIMITS)
    assert reading == MessageReading(reading.message_id, verdict=reading.verdict)
    assert reading.verdict.auto_reason == "auto-submitted: auto-replied"


def test_a_message_over_the_shape_caps_is_not_read_past_them() -> None:
    raw = request_email(
        SENT, message_id="<many-headers@council.example>", extra_headers={f"X-Pad-{n}": "x" for n in range(20)}
    )
    reading = read_message(raw, OWN, ReadingLimits(max_headers=15, max_mime_parts=100, max_mime_depth=10))
    assert reading == MessageReading("<many-headers@council.example>", too_complex="more than 15 headers")


FORGED = "mx.police.example; dmarc=pass header.from=council.example"
REAL_FAIL = "mx.police.example; dmarc=fail header.from=council.example"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([FORGED], id="one pass"),
        pytest.param([REAL_FAIL, FORGED], id="a forged pass below the real fail"),
        pytest.param(["mx.council.example; dmarc=fail", FORGED], id="another server's header on top"),
        pytest.param(["(relay; checked) mx.police.example; dmarc=pass"], id="a comment with a semicolon first"),
        pytest.param(['mx.police.example 1; dmarc=pass (said "x; y")'], id="a version number"),
        pytest.param(["mx.police.example; spf=pass smtp.mailfrom=dmarc=pass@evil.example"], id="pass inside a value"),
        pytest.param(["MX.POLICE.EXAMPLE; compauth=pass reason=109"], id="compauth upper case"),
        pytest.param(["mx.police.example x; dmarc=pass"], id="a second word that is no version"),
        pytest.param([], id="none"),
    ],
)
def test_dmarc_is_judged_as_dmarc_passes_judges_it(headers: list[str]) -> None:
    raw = request_email(SENT, auth=None)
    head, body = raw.split(b"\n\n", 1)
    added = b"".join(f"Authentication-Results: {value}\n".encode() for value in headers)
    raw = added + head + b"\n\n" + body
    msg = parse(raw)
    reading = read_message(raw, OWN, LIMITS)
    for server in (*SERVERS, "mx.police.example 1", "x"):
        assert reading.dmarc_passes(server) == dmarc_passes(msg, server), server
