"""Outgoing mail on the wire and its iCalendar parts: what Outlook and a person receive."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from icalendar import Calendar

from bot.domain.model import Attachment, CalendarEvent, OutgoingEmail
from bot.mail.invitation import calendar_feed, invitation
from bot.mail.rendering import MailRenderer, build_message
from tests.support.requests_mail import london

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


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_a_message_is_threaded_marked_automatic_and_carries_its_invitation_twice() -> None:
    invite = invitation(
        EVENT, "REQUEST", london("2026-11-25 10:00").tzinfo, "PVP Referral Unit", london("2026-11-23 09:00")
    )  # type: ignore[arg-type]
    out = OutgoingEmail(
        purpose="confirmation",
        to=("alex.morgan@council.example",),
        cc=("nurse@nhs.example",),
        subject="Strategy discussion booked: N146782\r\nBcc: victim@evil.example",
        text="Siân's text",
        html="<p>Siân's html</p>",
        message_id="<SD000001.confirmation.1@police.example>",
        in_reply_to="<req@council.example>",
        references=("<req@council.example>",),
        attachments=(Attachment("invite.ics", "text/calendar", invite, True, (("method", "REQUEST"),)),),
    )
    msg = parse(
        build_message(
            out, "PVP Referral Unit", "referrals@police.example", "referrals@police.example", london("2026-11-23 09:00")
        )
    )
    assert msg["To"] == "alex.morgan@council.example" and msg["Cc"] == "nurse@nhs.example"
    assert msg["Bcc"] is None and "\n" not in str(msg["Subject"])  # header injection neutralised
    assert msg["In-Reply-To"] == "<req@council.example>" and msg["References"] == "<req@council.example>"
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Loop"] == "referrals@police.example"
    types = [part.get_content_type() for part in msg.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/ics",
    ]
    calendar_part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert msg.get_body(("plain",)).get_content().strip() == "Siân's text"  # type: ignore[union-attr]


@pytest.mark.parametrize(("day", "offset"), [("2026-11-25", "+0000"), ("2027-04-07", "+0100")])
def test_invitations_keep_ten_o_clock_local_with_a_full_vtimezone(day: str, offset: str) -> None:
    event = CalendarEvent(**{**EVENT.__dict__, "start": london(f"{day} 10:00"), "end": london(f"{day} 10:15")})
    data = invitation(event, "REQUEST", london(day + " 10:00").tzinfo, "PVP Referral Unit", london("2026-11-23 09:00"))  # type: ignore[arg-type]
    cal = Calendar.from_ical(data)
    assert str(cal["METHOD"]) == "REQUEST"
    [vevent] = list(cal.walk("VEVENT"))
    assert vevent.decoded("DTSTART") == london(f"{day} 10:00")
    assert vevent.decoded("DTSTART").strftime("%z") == offset
    assert b"DTSTART;TZID=Europe/London:" in data
    [tz] = list(cal.walk("VTIMEZONE"))
    assert {c.name for c in tz.subcomponents} == {"STANDARD", "DAYLIGHT"}
    assert str(vevent["UID"]) == "SD000001@police.example" and int(vevent["SEQUENCE"]) == 2
    assert str(vevent["CLASS"]) == "PRIVATE" and str(vevent["SUMMARY"]) == "Strategy discussion N146782"
    assert [str(a) for a in vevent.get("ATTENDEE")] == [
        "mailto:alex.morgan@council.example",
        "mailto:nurse@nhs.example",
    ]


def test_a_cancellation_keeps_the_uid_and_says_cancelled() -> None:
    data = invitation(EVENT, "CANCEL", london("2026-11-25 10:00").tzinfo, "PVP", london("2026-11-23 09:00"))  # type: ignore[arg-type]
    cal = Calendar.from_ical(data)
    [vevent] = list(cal.walk("VEVENT"))
    assert str(cal["METHOD"]) == "CANCEL" and str(vevent["STATUS"]) == "CANCELLED"
    assert str(vevent["UID"]) == EVENT.uid


def test_the_published_feed_names_the_calendar_and_holds_every_event() -> None:
    data = calendar_feed([EVENT], "Strategy Meeting", london("2026-11-25 10:00").tzinfo, london("2026-11-23 09:00"))  # type: ignore[arg-type]
    cal = Calendar.from_ical(data)
    assert str(cal["X-WR-CALNAME"]) == "Strategy Meeting" and str(cal["METHOD"]) == "PUBLISH"
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == ["Strategy discussion N146782"]
    assert b"ATTENDEE" not in data  # the feed is for subscribers: no addresses in it


def test_templates_escape_html_and_refuse_unknown_values() -> None:
    from jinja2 import TemplateError

    from bot.domain.model import Requester

    renderer = MailRenderer()
    context = {
        "bot_name": "bot",
        "referral_unit_name": "PVP Referral Unit",
        "referral_unit": "referrals@police.example",
        "case_id": None,
        "n_numbers": [],
        "meeting_name": "",
        "requester": Requester("<b>O'Neil</b>", None, None, None),
        "urgent_subject": "URGENT S47 ENQUIRY",
        "standard_subject": "Strategy discussion",
        "address": "referrals@police.example",
    }
    mail = renderer.render("triage_reply", context)
    assert "URGENT S47 ENQUIRY" in mail.text and "<" not in mail.subject
    missing = dict(context)
    del missing["address"]
    with pytest.raises(TemplateError, match="triage_reply.txt.j2: .address. is undefined"):
        renderer.render("triage_reply", missing)
    escalation = renderer.render(
        "missing_information",
        {
            **context,
            "missing": ["a contact number"],
            "template_labels": ["Contact number:"],
            "kind": "standard",
            "urgent_indicators": [],
        },
    )
    assert "&lt;b&gt;O&#39;Neil&lt;/b&gt;" in escalation.html and "<b>O'Neil</b>" in escalation.text
