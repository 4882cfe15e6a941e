"""The bot writes emails and invitations itself, faster, but byte for byte as the libraries would.

``build_message`` (bot.mail.wire) writes the MIME tree itself, with its own boundaries, rather
than building the stdlib's message objects and flattening them; ``invitation`` serializes its
VTIMEZONE once and folds lines without icalendar's per-character loop. Each is checked here
against the library: parse what the bot wrote and let the library write it again; any
difference (a header left unfolded, a line folded at the wrong octet, an escape split across
a fold) fails.
"""

from __future__ import annotations

import dataclasses
import email
import re
from datetime import UTC, datetime
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, vCalAddress, vText

from bot.domain.auto_submitted import auto_submitted
from bot.domain.model import Attachment, CalendarEvent, OutgoingEmail
from bot.mail.invitation import PRODID, calendar_feed, invitation, vtimezone
from bot.mail.rendering import build_message
from bot.mail.wire import header_safe
from tests.support.requests_mail import LONDON, london

STDLIB_SMTP = compat32.clone(linesep="\r\n")
STAMP = london("2026-11-23 09:00")
EVENT = CalendarEvent(
    uid="SD000001@police.example",
    subject="Strategy discussion N146782",
    start=london("2026-11-25 10:00"),
    end=london("2026-11-25 10:15"),
    body="Bond children / Team Manager: Alex Morgan (01632 960123)",
    location="Conference call: 0203 555 0174",
    attendees=("alex.morgan@council.example", "nurse@nhs.example"),
    organizer="referrals@police.example",
    sequence=2,
)
# Escapes (\\, \\; \\, and RFC 6868's ^) and multi-octet characters at every offset of a fold.
AWKWARD = ["x" * shift + "\\;,^" * 40 for shift in range(4)] + [
    "é" * 100,
    'Siân Ó\'Brien; family; "quoted"\nsecond line\\ and 😀 ' * 6,
    "a" * 73 + "\\" + "b" * 80,
]
# DESCRIPTION lines of 73 to 77 octets, either side of the longest line left unfolded (74).
AWKWARD += ["d" * n for n in range(61, 66)] + ["é" + "d" * n for n in range(59, 64)]


def written_again(raw: bytes) -> bytes:
    return email.message_from_bytes(raw, policy=compat32).as_bytes(policy=STDLIB_SMTP)


@pytest.mark.parametrize("body", AWKWARD, ids=[f"body{i}" for i in range(len(AWKWARD))])
def test_an_invitation_is_folded_and_escaped_as_icalendar_writes_it(body: str) -> None:
    event = dataclasses.replace(
        EVENT, body=body, location=body[:90], attendees=tuple(f"{'long.' * 12}{i}@council.example" for i in range(4))
    )
    for method in ("REQUEST", "CANCEL"):
        data = invitation(event, method, LONDON, "PVP Referral Unit — Siân", STAMP)
        assert Calendar.from_ical(data).to_ical() == data
        assert all(len(line) <= 75 for line in data.split(b"\r\n"))
        [vevent] = Calendar.from_ical(data).walk("VEVENT")
        assert str(vevent["DESCRIPTION"]) == body and vevent.decoded("DTSTART") == event.start


def test_invitations_either_side_of_a_clock_change_carry_the_right_vtimezone() -> None:
    """The VTIMEZONE is serialized once per span of years: each invitation still covers its own years."""
    for day in ("2026-11-25", "2027-04-07", "2031-07-01"):
        event = dataclasses.replace(EVENT, start=london(f"{day} 10:00"), end=london(f"{day} 10:15"))
        data = invitation(event, "REQUEST", LONDON, "PVP", STAMP)
        assert Calendar.from_ical(data).to_ical() == data
        year = int(day[:4])
        [tz] = Calendar.from_ical(data).walk("VTIMEZONE")
        assert [c["DTSTART"].dt.year for c in tz.subcomponents] == [year - 2, year - 2]
        [vevent] = Calendar.from_ical(data).walk("VEVENT")
        assert vevent.decoded("DTSTART") == london(f"{day} 10:00")


def test_the_feed_is_written_as_icalendar_writes_it() -> None:
    events = [dataclasses.replace(EVENT, uid=f"SD{i}@police.example", subject=f"N{i}; " + AWKWARD[i]) for i in range(6)]
    data = calendar_feed(events, "Strategy Meeting", LONDON, STAMP)
    assert Calendar.from_ical(data).to_ical() == data
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(data).walk("VEVENT")] == [e.subject for e in events]


def outgoing(**changes: object) -> OutgoingEmail:
    invite = invitation(EVENT, "REQUEST", LONDON, "PVP Referral Unit", STAMP)
    base = OutgoingEmail(
        purpose="confirmation",
        to=("alex.morgan@council.example",),
        cc=("nurse@nhs.example",),
        subject="Strategy discussion booked: N146782",
        text="Siân's text\nFrom the bot\n" + "line " * 60,
        html="<p>Siân's html</p>",
        message_id="<SD000001.confirmation.1@police.example>",
        in_reply_to="<req@council.example>",
        references=("<req@council.example>",),
        attachments=(Attachment("invite.ics", "text/calendar", invite, True, (("method", "REQUEST"),)),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


CHART = Attachment("chart.png", "image/png", bytes(range(256)) * 8, content_id="chart1@police.example")
DOCX = Attachment("Minutes – Ó Brien.docx", "application/octet-stream", b"PK\x03\x04" * 300)


EMAILS: list[dict[str, object]] = [
    {},
    {"subject": "Strategy discussion booked: N146782 " + "and a subject longer than a line " * 3},
    {"subject": "Siân Ó'Brien — strategy discussion " * 3},
    {"subject": "x" * 41},  # "Subject: " and 41 characters make the 50-character line the fast path writes
    {"to": tuple(f"manager{i}@council.example" for i in range(20)), "references": ("<a@b.example>",) * 9},
    {"attachments": (CHART, DOCX), "in_reply_to": None, "references": (), "cc": ()},
    {"text": "--===============1234567890123456789==\n=" * 40, "html": "<p>" + "=" * 300 + "</p>"},
]


@pytest.mark.parametrize(
    "changes",
    EMAILS,
    ids=["confirmation", "long-subject", "accented-subject", "short-subject", "many-recipients", "images", "equals"],
)
def test_an_email_is_written_as_the_standard_library_writes_it(changes: dict[str, object]) -> None:
    out = outgoing(**changes)
    raw = build_message(out, "PVP Referral Unit — Siân", "referrals@police.example", "referrals@police.example", STAMP)
    assert written_again(raw) == raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    boundaries = re.findall(rb'boundary="([^"]+)"', raw)
    assert len(boundaries) == len(set(boundaries)) >= 2
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(msg["Subject"]) == " ".join(out.subject.split())
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == out.text  # type: ignore[union-attr]
    assert msg["To"] == ", ".join(out.to) and str(msg["Message-ID"]) == out.message_id


# -- the same email built from the stdlib's MIME classes ------------------------------------


def _stdlib_text(text: str, subtype: str) -> MIMENonMultipart:
    charset = Charset("utf-8")
    charset.body_encoding = QP
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, charset)
    return part


def stdlib_message(email: OutgoingEmail, from_name: str, from_address: str, x_loop: str, date: datetime) -> bytes:
    """How build_message wrote emails before bot.mail.wire: compat32 MIME objects, flattened by the stdlib."""
    body = MIMEMultipart("alternative")
    body.attach(_stdlib_text(email.text, "plain"))
    html: MIMEBase = _stdlib_text(email.html, "html")
    images = [a for a in email.attachments if a.content_id]
    if images:
        html, first = MIMEMultipart("related"), html
        html.attach(first)
        for attachment in images:
            maintype, _, subtype = attachment.content_type.partition("/")
            image = MIMEBase(header_safe(maintype) or "image", header_safe(subtype) or "png")
            image.set_payload(attachment.data)
            encoders.encode_base64(image)
            image.add_header("Content-ID", f"<{header_safe(attachment.content_id)}>")
            image.add_header("Content-Disposition", "inline", filename=header_safe(attachment.filename) or "image")
            html.attach(image)
    body.attach(html)
    files: list[MIMEBase] = []
    for attachment in email.attachments:
        if attachment.content_id:
            continue
        maintype, _, subtype = attachment.content_type.partition("/")
        filename = header_safe(attachment.filename) or "attachment"
        if attachment.inline_alternative:
            part = MIMEText(attachment.data.decode("utf-8"), subtype or "calendar", "utf-8")
            for key, value in attachment.params:
                part.set_param(header_safe(key), header_safe(value))
            body.attach(part)
            maintype, subtype = "application", "ics"
        file_part = MIMEBase(header_safe(maintype) or "application", header_safe(subtype) or "octet-stream")
        file_part.set_payload(attachment.data)
        encoders.encode_base64(file_part)
        if filename.isascii():
            file_part.add_header("Content-Disposition", "attachment", filename=filename)
        else:
            file_part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
        files.append(file_part)
    msg: MIMEBase = body
    if files:
        msg = MIMEMultipart("mixed")
        msg.attach(body)
        for file_part in files:
            msg.attach(file_part)
    subject = header_safe(email.subject)
    msg["From"] = formataddr((header_safe(from_name), header_safe(from_address)))
    msg["To"] = ", ".join(header_safe(a) for a in email.to)
    if email.cc:
        msg["Cc"] = ", ".join(header_safe(a) for a in email.cc)
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8", header_name="Subject").encode()
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = header_safe(email.message_id)
    if email.in_reply_to:
        msg["In-Reply-To"] = header_safe(email.in_reply_to)
    if email.references:
        msg["References"] = " ".join(header_safe(r) for r in email.references)
    msg["Auto-Submitted"] = auto_submitted(email.purpose, email.in_reply_to)
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = header_safe(x_loop)
    return msg.as_bytes(policy=STDLIB_SMTP)


def numbered(raw: bytes) -> bytes:
    """Each multipart boundary, random in both, replaced by its order of appearance."""
    seen: dict[bytes, int] = {}
    return re.sub(rb"===============\d{19}==", lambda m: b"B%d" % seen.setdefault(m.group(0), len(seen)), raw)


# Lines either side of quoted-printable's 76 characters, ending in a space, a tab, "=" or an
# accent, with CR, LF and CRLF line ends: where a soft break or a quoted character goes.
QP_EDGES = "".join("é" * (i % 3) + "x" * (70 + i % 9) + " \t=é"[i % 4] + "\r\n\r"[i % 3] for i in range(40)) + "end \t"
ODD_PARAMS = (("method", "REQUEST"), ("x-note", "Siân's; meeting"), ("Method", "CANCEL"), ("empty", ""))


@pytest.mark.parametrize(
    "changes",
    [
        *EMAILS,
        {"attachments": (dataclasses.replace(outgoing().attachments[0], params=ODD_PARAMS),)},
        {"attachments": (dataclasses.replace(outgoing().attachments[0], params=(("charset", "utf-8"),)),)},
        {"attachments": (Attachment("", "", b""), Attachment("a.txt", "text/plain", b"line\n"), CHART)},
        {"text": "", "html": "", "to": ("siân@council.example",), "cc": ("a@b.example",) * 30},
        {"text": QP_EDGES, "html": QP_EDGES.replace("x", "<b>")},
    ],
)
def test_an_email_is_what_the_standard_librarys_mime_classes_make_of_it(changes: dict[str, object]) -> None:
    out = outgoing(**changes)
    args = (out, "PVP Referral Unit — Siân", "referrals@police.example", "referrals@police.example", STAMP)
    assert numbered(build_message(*args)) == numbered(stdlib_message(*args))


# -- the same invitation built from icalendar's objects -------------------------------------


def _address(address: str, **params: str) -> vCalAddress:
    value = vCalAddress(f"mailto:{address}")
    for key, param in params.items():
        value.params[key] = vText(param)
    return value


def icalendar_calendar(events: list[CalendarEvent], method: str, tz: ZoneInfo, name: str, stamp: datetime) -> bytes:
    """How invitation() and calendar_feed() wrote calendars before: icalendar components and to_ical."""
    cal = Calendar()
    for key, value in (("prodid", PRODID), ("version", "2.0"), ("calscale", "GREGORIAN"), ("method", method)):
        cal.add(key, value)
    if method == "PUBLISH":
        cal.add("x-wr-calname", name)
        cal.add("x-wr-timezone", str(tz.key))
    cal.add_component(vtimezone(tz, [e.start for e in events] + [e.end for e in events]))
    for event in events:
        vevent = Event()
        vevent.add("uid", event.uid)
        vevent.add("dtstamp", stamp.astimezone(UTC))
        vevent.add("dtstart", event.start.astimezone(tz))
        vevent.add("dtend", event.end.astimezone(tz))
        vevent.add("sequence", event.sequence)
        vevent.add("summary", event.subject)
        if event.location:
            vevent.add("location", event.location)
        vevent.add("class", "PRIVATE" if event.private else "PUBLIC")
        if method != "PUBLISH":
            if event.body:
                vevent.add("description", event.body)
            vevent.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
            vevent.add("transp", "OPAQUE")
            if event.organizer:
                vevent.add("organizer", _address(event.organizer, CN=name))
            for attendee in event.attendees:
                params = {"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
                vevent.add("attendee", _address(attendee, **params), encode=True)
        cal.add_component(vevent)
    return bytes(cal.to_ical())


ZONES = ["Europe/London", "UTC", "America/New_York", "Australia/Sydney"]
PEOPLE = ("alex.morgan@council.example", "o'brien;siân@nhs.example", "a,b:c^d@police.example")


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("body", AWKWARD[:6], ids=[f"body{i}" for i in range(6)])
def test_an_invitation_is_what_icalendar_makes_of_the_event(zone: str, body: str) -> None:
    tz = ZoneInfo(zone)
    for private, organizer, name in ((True, "referrals@police.example", 'PVP "Referral" Unit; Siân'), (False, "", "")):
        event = dataclasses.replace(
            EVENT, body=body, subject=body[:50], location=body[:30], uid=body[:20] or "u", attendees=PEOPLE,
            organizer=organizer, private=private, sequence=7,
        )  # fmt: skip
        stamp = datetime(2026, 11, 23, 9, 0, 1, 123456, tzinfo=UTC)
        for method in ("REQUEST", "CANCEL"):
            assert invitation(event, method, tz, name, stamp) == icalendar_calendar([event], method, tz, name, stamp)
        feed = calendar_feed([event, EVENT], "Strategy; Meeting", tz, stamp)
        assert feed == icalendar_calendar([event, EVENT], "PUBLISH", tz, "Strategy; Meeting", stamp)
