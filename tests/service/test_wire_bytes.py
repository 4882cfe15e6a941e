"""The bot writes emails and invitations itself, faster, but byte for byte as the libraries would.

``build_message`` picks its own MIME boundaries and writes short headers without the stdlib's
``Header``; ``invitation`` serializes its VTIMEZONE once and folds lines without icalendar's
per-character loop. Each is checked here against the library: parse what the bot wrote and
let the library write it again; any difference (a header left unfolded, a line folded at the
wrong octet, an escape split across a fold) fails.
"""

from __future__ import annotations

import dataclasses
import email
import re
from email.policy import compat32

import pytest
from icalendar import Calendar

from bot.domain.model import Attachment, CalendarEvent, OutgoingEmail
from bot.mail.invitation import calendar_feed, invitation
from bot.mail.rendering import build_message
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


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"subject": "Strategy discussion booked: N146782 " + "and a subject longer than a line " * 3},
        {"subject": "Siân Ó'Brien — strategy discussion " * 3},
        {"subject": "x" * 41},  # "Subject: " and 41 characters make the 50-character line the fast path writes
        {"to": tuple(f"manager{i}@council.example" for i in range(20)), "references": ("<a@b.example>",) * 9},
        {"attachments": (CHART, DOCX), "in_reply_to": None, "references": (), "cc": ()},
        {"text": "--===============1234567890123456789==\n=" * 40, "html": "<p>" + "=" * 300 + "</p>"},
    ],
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
