"""The emails as a manager, a detective sergeant and a mail client see them: wording, escaping, headers."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import TemplateError

from bot.config import ConfigError, DsContact
from bot.domain.model import Attachment, OutgoingEmail, RequestDetails, Requester
from bot.mail.rendering import (
    MailRenderer,
    RenderedMail,
    build_message,
    header_safe,
    hhmm,
    joinand,
    longdate,
    shortdate,
)

LONDON = ZoneInfo("Europe/London")
PURPOSES = (
    "confirmation",
    "missing_information",
    "urgent_acknowledgement",
    "duty_referral",
    "triage_reply",
    "timescale_at_risk",
    "quarantine_notice",
    "near_miss_alert",
)
REQUESTER = Requester("Alex Morgan", "Team Manager", "01632 960123", "alex.morgan@council.example")
DETAILS = RequestDetails(
    n_numbers=("N146782",),
    surname="Bond",
    children="James Bond 01/02/2015",
    address="1 Acacia Avenue, Northampton NN1 1AA",
    requester=REQUESTER,
    social_worker="Sam Patel",
    reason="Bruising to the face reported by the school",
    health_rep="nurse@nhs.example",
    invitees=("dsl@school.council.example",),
)
# What must never reach a subject line (domain.md §7).
PERSONAL = ("Bond", "Alex", "Morgan", "01632", "alex.morgan", "Acacia", "Bruising", "2015", "Patel")


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def common(**overrides: Any) -> dict[str, Any]:
    return {
        "bot_name": "Strategy discussion bot",
        "referral_unit_name": "PVP Referral Unit",
        "referral_unit": "referrals@police.example",
        "case_id": "SD000001",
        "n_numbers": ["N146782"],
        "meeting_name": "N146782",
        "requester": REQUESTER,
        **overrides,
    }


def confirmation(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            start=london("2026-11-25 10:00"),
            end=london("2026-11-25 10:15"),
            minutes=15,
            complex=False,
            dial_in="0203 463 9741",
            passcode="76 52 87 15 then #",
            surname="Bond",
            invitees=["nurse@nhs.example", "dsl@school.council.example"],
            health_rep="nurse@nhs.example",
            quorum_note=None,
            left_out=[],
            within_timescale=True,
            deadline=date(2026, 11, 26),
            urgent_indicators=[],
        )
        | overrides
    )


def missing_information(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            missing=["the children's surname", "a contact number"],
            kind="standard",
            template_labels=["Children's surname:", "Contact number:"],
            urgent_indicators=[],
        )
        | overrides
    )


def urgent_timing() -> dict[str, Any]:
    return {
        "clock_start": london("2026-11-25 09:47"),
        "callback_by": london("2026-11-25 10:47"),
        "callback_minutes": 60,
        "missing": [],
    }


def urgent_acknowledgement(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            **urgent_timing(),
            phone="01632 960123",
            ds_contacts=[DsContact("DS Jane Hill", "01604 888111"), DsContact("DS Raj Singh", "01604 888222")],
            admin_support_phone="01604 888000",
        )
        | overrides
    )


def duty_referral(**overrides: Any) -> dict[str, Any]:
    return common(**urgent_timing(), details=DETAILS, urgent_indicators=[]) | overrides


def triage_reply(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            case_id=None,
            n_numbers=[],
            meeting_name="",
            requester=Requester(),
            urgent_subject="URGENT S47 ENQUIRY",
            standard_subject="Strategy discussion",
            address="referrals@police.example",
        )
        | overrides
    )


def timescale_at_risk(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            start=london("2026-12-02 10:00"),
            end=london("2026-12-02 10:15"),
            effective_day=date(2026, 11, 25),
            deadline=date(2026, 11, 30),
            working_days=3,
            hours=None,
            complex=False,
        )
        | overrides
    )


def quarantine_notice(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            case_id=None,
            n_numbers=[],
            meeting_name="",
            requester=Requester(),
            reason="sender domain not allowed: gmail.com",
            message_id="<abc123@mail.gmail.com>",
            received_at=london("2026-11-25 09:47"),
            folder="quarantine",
        )
        | overrides
    )


def near_miss_alert(**overrides: Any) -> dict[str, Any]:
    return (
        common(
            for_sender=False,
            n_numbers=["N146782"],
            sender="alex.morgan@council.example",
            subject="Urgent strategy discussion N146782",
            received=london("2026-11-23 09:00"),
            handling="booked",
            state="booked",
            booked_start=london("2026-11-25 10:00"),
            sender_told=True,
            triage_folder="Triage",
            resend_subject="URGENT S47 ENQUIRY N146782",
        )
        | overrides
    )


CONTEXTS = {
    "confirmation": confirmation,
    "missing_information": missing_information,
    "urgent_acknowledgement": urgent_acknowledgement,
    "duty_referral": duty_referral,
    "triage_reply": triage_reply,
    "timescale_at_risk": timescale_at_risk,
    "quarantine_notice": quarantine_notice,
    "near_miss_alert": near_miss_alert,
}


@pytest.fixture(scope="module")
def renderer() -> MailRenderer:
    return MailRenderer()


def words(text: str) -> str:
    """Text with runs of whitespace made one space, and HTML tags dropped: what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


# -- filters ---------------------------------------------------------------------------------


def test_dates_and_times_read_the_way_people_write_them() -> None:
    assert longdate(date(2026, 11, 25)) == "Wednesday 25 November 2026"
    assert longdate(london("2027-04-07 10:00")) == "Wednesday 7 April 2027"
    assert shortdate(london("2026-11-25 10:00")) == "Wed 25 Nov"
    assert shortdate(date(2027, 4, 7)) == "Wed 7 Apr"
    # The time shown is the zone's own wall clock: 10:00 BST, not 09:00 UTC.
    assert hhmm(datetime(2027, 4, 7, 9, 0, tzinfo=UTC).astimezone(LONDON)) == "10:00"
    assert hhmm(london("2026-11-25 09:05")) == "09:05"
    assert [joinand(x) for x in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == ["", "a", "a and b", "a, b and c"]


def test_header_values_lose_line_breaks_and_control_characters() -> None:
    assert header_safe(" Booked:\r\nBcc: x@evil.example\x00\u2028end\t ") == "Booked: Bcc: x@evil.example end"


# -- every purpose renders -----------------------------------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_purpose_renders_with_no_personal_data_in_its_subject(renderer: MailRenderer, purpose: str) -> None:
    mail = renderer.render(purpose, CONTEXTS[purpose]())
    assert isinstance(mail, RenderedMail)
    assert mail.subject and "\n" not in mail.subject and mail.subject == mail.subject.strip()
    assert [p for p in PERSONAL if p in mail.subject] == []
    assert mail.html.lstrip().startswith("<!DOCTYPE html>") and "</html>" in mail.html
    assert "PVP Referral Unit" in mail.text  # the signature says who sent it


@pytest.mark.parametrize(
    ("purpose", "subject"),
    [
        ("confirmation", "Strategy discussion booked: N146782 on Wed 25 Nov at 10:00"),
        ("missing_information", "Strategy discussion N146782: information needed"),
        ("urgent_acknowledgement", "URGENT S47 ENQUIRY N146782 received: police will call by 10:47"),
        ("duty_referral", "URGENT S47 ENQUIRY N146782: call the TM/PM by 10:47"),
        ("triage_reply", "Not recognised by the strategy discussion bot: passed to a person"),
        ("timescale_at_risk", "Strategy discussion N146782: timescale at risk"),
        ("quarantine_notice", "Quarantined: a message to the referral inbox needs a person"),
        ("near_miss_alert", "Check now: N146782 may be a live enquiry; no police call-back arranged (SD000001)"),
    ],
)
def test_subjects(renderer: MailRenderer, purpose: str, subject: str) -> None:
    assert renderer.render(purpose, CONTEXTS[purpose]()).subject == subject


# -- confirmation (§3.6) ------------------------------------------------------------------


def test_the_confirmation_says_everything_needed_to_join(renderer: MailRenderer) -> None:
    mail = renderer.render("confirmation", confirmation())
    for body in (words(mail.text), words(mail.html)):
        assert "Dear Alex Morgan" in body
        assert "N146782 (Bond children) is booked" in body
        assert "Wednesday 25 November 2026" in body
        assert "10:00 to 10:15 (15 minutes)" in body
        assert "0203 463 9741" in body and "76 52 87 15 then #" in body
        assert "nurse@nhs.example and dsl@school.council.example" in body
        assert "Health representative: nurse@nhs.example" in body
        assert "children's social care (the social worker and their manager), health and police" in body
        assert "say why at item 1 of the agenda" in body
        assert "invitation is attached" in body
        assert "reply to this email" in body
        assert "Introductions and apologies (if it is not quorate please state why)" in body
        assert "Rationale for the decision" in body
        assert "URGENT threshold" not in body and "Timescale" not in body and "Not invited" not in body
    assert "Join the meeting named N146782" in mail.text
    assert "<strong>Meeting name</strong></td><td>N146782" in mail.html


def test_the_confirmation_keeps_ten_o_clock_in_summer(renderer: MailRenderer) -> None:
    mail = renderer.render(
        "confirmation", confirmation(start=london("2027-04-07 10:00"), end=london("2027-04-07 10:30"), minutes=30)
    )
    assert mail.subject == "Strategy discussion booked: N146782 on Wed 7 Apr at 10:00"
    assert "Wednesday 7 April 2027" in mail.text and "10:00 to 10:30 (30 minutes)" in mail.text


def test_the_confirmation_warns_of_quorum_domains_timescale_and_the_urgent_threshold(renderer: MailRenderer) -> None:
    note = "No health representative has been invited, so the discussion may not be quorate."
    mail = renderer.render(
        "confirmation",
        confirmation(
            invitees=[],
            health_rep=None,
            quorum_note=note,
            left_out=["someone@gmail.com"],
            within_timescale=False,
            complex=True,
            urgent_indicators=["a clear allegation of sexual abuse", "children home alone"],
        ),
    )
    for body in (words(mail.text), words(mail.html)):
        assert note in body
        assert "Not invited: someone@gmail.com" in body
        assert "after Thursday 26 November 2026" in body
        assert "complex case" in body
        assert "a clear allegation of sexual abuse and children home alone" in body
        assert '"URGENT S47 ENQUIRY"' in body or "&#34;URGENT S47 ENQUIRY&#34;" in body
        assert "Health representative:" not in body


def test_html_is_escaped_and_text_is_not(renderer: MailRenderer) -> None:
    surname = "<b>O'Neil & Sons</b>"
    mail = renderer.render("confirmation", confirmation(surname=surname))
    assert "&lt;b&gt;O&#39;Neil &amp; Sons&lt;/b&gt;" in mail.html and surname not in mail.html
    assert f"({surname} children)" in mail.text


def test_a_subject_is_one_line_and_unescaped_whatever_the_values(renderer: MailRenderer) -> None:
    mail = renderer.render("confirmation", confirmation(meeting_name="N146782\r\nBcc: x@evil.example\x07 & co"))
    assert mail.subject == "Strategy discussion booked: N146782 Bcc: x@evil.example & co on Wed 25 Nov at 10:00"


def test_an_undefined_variable_raises_naming_the_template(renderer: MailRenderer) -> None:
    context = confirmation()
    del context["passcode"]
    with pytest.raises(TemplateError, match=r"confirmation\.txt\.j2: 'passcode' is undefined"):
        renderer.render("confirmation", context)
    context = confirmation()
    del context["referral_unit_name"]  # used only in the shared signature and layout
    with pytest.raises(TemplateError, match=r"confirmation\.txt\.j2: .*referral_unit_name.*_signature\.txt\.j2"):
        renderer.render("confirmation", context)


# -- the other purposes -----------------------------------------------------------------------


def test_missing_information_lists_what_is_missing_and_the_lines_to_fill_in(renderer: MailRenderer) -> None:
    mail = renderer.render("missing_information", missing_information())
    assert "until it has:\n\n  - the children's surname\n  - a contact number\n" in mail.text
    assert "\nChildren's surname:\nContact number:\n" in mail.text
    for body in (words(mail.text), words(mail.html)):
        assert "open and waiting" in body and "reply to this email" in body
        assert "URGENT threshold" not in body
    assert "<li>the children&#39;s surname</li>" in mail.html


def test_missing_information_for_an_urgent_enquiry_does_not_talk_of_booking(renderer: MailRenderer) -> None:
    mail = renderer.render(
        "missing_information",
        missing_information(kind="urgent", urgent_indicators=["children home alone"]),
    )
    assert mail.subject == "URGENT S47 ENQUIRY N146782: information needed"
    assert "cannot be booked" not in mail.text and "police, who will ring you" in mail.text
    assert "URGENT threshold (children home alone)" in words(mail.text)


def test_the_urgent_acknowledgement_says_who_rings_when_and_who_to_ring_if_not(renderer: MailRenderer) -> None:
    mail = renderer.render("urgent_acknowledgement", urgent_acknowledgement())
    for body in (words(mail.text), words(mail.html)):
        assert "Police will ring you on 01632 960123 by 10:47" in body
        assert "ring DS Jane Hill on 01604 888111 or DS Raj Singh on 01604 888222" in body
        assert "ring Admin Support on 01604 888000, who will escalate to the Service Manager in MASH" in body
        assert "No contact number" not in body


def test_the_urgent_acknowledgement_asks_for_a_number_when_none_was_given(renderer: MailRenderer) -> None:
    mail = renderer.render(
        "urgent_acknowledgement", urgent_acknowledgement(phone=None, missing=["a contact number"], ds_contacts=[])
    )
    body = words(mail.text)
    assert "No contact number was given" in body and "Police will ring you on" not in body
    assert "Still needed: a contact number" in body
    assert "ring the PVP Referral Unit." in body


def test_the_duty_referral_carries_the_case_details_in_the_body_only(renderer: MailRenderer) -> None:
    mail = renderer.render(
        "duty_referral", duty_referral(urgent_indicators=["alleged or suspected serious physical injury"])
    )
    for body in (words(mail.text), words(mail.html)):
        assert "received at 09:47 on Wednesday 25 November 2026" in body
        assert "by 10:47" in body and "01632 960123" in body
        for detail in ("James Bond 01/02/2015", "1 Acacia Avenue", "Sam Patel", "Bruising to the face"):
            assert detail in body
        assert "alleged or suspected serious physical injury" in body


def test_the_duty_referral_says_plainly_what_was_not_given(renderer: MailRenderer) -> None:
    bare = RequestDetails(n_numbers=("N146782",), requester=Requester(email="alex.morgan@council.example"))
    mail = renderer.render(
        "duty_referral", duty_referral(details=bare, requester=bare.requester, missing=["a contact number"])
    )
    assert "NO NUMBER GIVEN" in mail.text and "Missing from the request: a contact number." in mail.text


def read_as_sentences(text: str) -> str:
    """``words`` without the space a dropped tag leaves before punctuation (``<b>16:00</b>,``)."""
    return re.sub(r" ([,.:;)])", r"\1", words(text))


def test_the_urgent_acknowledgement_tells_the_tm_to_reply_contacted_once_police_have_rung(
    renderer: MailRenderer,
) -> None:
    mail = renderer.render("urgent_acknowledgement", urgent_acknowledgement())
    for body in (read_as_sentences(mail.text), read_as_sentences(mail.html)):
        assert (
            "Once police have rung you, reply to this email with CONTACTED on the first line "
            "(or CONTACTED 16:00, with the time of the strategy meeting you agreed)" in body
        )
        assert "Until then the bot sends reminders, to you and then to Admin Support and the Service Manager" in body


def test_the_duty_referral_asks_the_ds_to_reply_contacted_once_they_have_rung(renderer: MailRenderer) -> None:
    mail = renderer.render("duty_referral", duty_referral())
    for body in (read_as_sentences(mail.text), read_as_sentences(mail.html)):
        assert (
            "Please reply CONTACTED once you have rung the Team Manager: CONTACTED on the first line of your reply "
            "to this email (or CONTACTED 16:00, with the time of the strategy meeting you agreed)" in body
        )
        assert "then to Admin Support, then to the Service Manager in MASH" in body


def test_the_triage_reply_names_the_two_subjects_the_bot_understands(renderer: MailRenderer) -> None:
    mail = renderer.render("triage_reply", triage_reply())
    for body in (words(mail.text), words(mail.html)):
        assert "URGENT S47 ENQUIRY" in body and "Strategy discussion" in body
        assert "referrals@police.example" in body and "passed to a person" in body


def test_the_timescale_warning_gives_the_slot_and_the_deadline(renderer: MailRenderer) -> None:
    mail = renderer.render("timescale_at_risk", timescale_at_risk(complex=True, working_days=5))
    body = words(mail.text)
    assert "booked for Wednesday 2 December 2026 at 10:00" in body
    assert "within 5 working days of the referral (Wednesday 25 November 2026), as a complex case" in body
    assert "by Monday 30 November 2026" in body


def test_the_timescale_warning_without_a_slot_says_a_person_will_arrange_it(renderer: MailRenderer) -> None:
    mail = renderer.render("timescale_at_risk", timescale_at_risk(start=None, end=None, deadline=None))
    assert mail.subject == "Strategy discussion N146782: no free slot, passed to a person"
    assert "no free slot" in mail.text and "booked for" not in mail.text


def test_the_quarantine_notice_gives_the_administrator_what_to_look_for(renderer: MailRenderer) -> None:
    mail = renderer.render("quarantine_notice", quarantine_notice())
    for body in (words(mail.text), words(mail.html)):
        assert "sender domain not allowed: gmail.com" in body
        assert "Wednesday 25 November 2026 at 09:47" in body and '"quarantine"' in body.replace("&#34;", '"')
    assert "<abc123@mail.gmail.com>" in mail.text and "&lt;abc123@mail.gmail.com&gt;" in mail.html


# -- checking a template folder ---------------------------------------------------------------


def test_the_packaged_templates_are_complete(renderer: MailRenderer) -> None:
    renderer.check(PURPOSES)


def test_check_names_every_missing_file_including_shared_parts(tmp_path: Path) -> None:
    (tmp_path / "triage_reply.subject.j2").write_text("Not recognised\n")
    (tmp_path / "triage_reply.txt.j2").write_text('Hello\n{% include "_signature.txt.j2" %}\n')
    (tmp_path / "triage_reply.html.j2").write_text('{% extends "_layout.html.j2" %}\n')
    (tmp_path / "event_body.txt.j2").write_text("{{ meeting_name }}\n")
    with pytest.raises(ConfigError) as failure:
        MailRenderer(tmp_path).check(["triage_reply", "confirmation"])
    message = str(failure.value)
    for name in (
        "confirmation.subject.j2",
        "confirmation.txt.j2",
        "confirmation.html.j2",
        "_signature.txt.j2",
        "_layout.html.j2",
    ):
        assert name in message
    assert "triage_reply.txt.j2" not in message and "event_body" not in message


def test_check_reports_a_template_that_does_not_parse(tmp_path: Path) -> None:
    for suffix in (".subject.j2", ".txt.j2", ".html.j2"):
        (tmp_path / f"triage_reply{suffix}").write_text("ok\n")
    (tmp_path / "triage_reply.txt.j2").write_text("line\n{% if address %}unclosed\n")
    (tmp_path / "event_body.txt.j2").write_text("ok\n")
    with pytest.raises(ConfigError, match=r"triage_reply\.txt\.j2 line \d"):
        MailRenderer(tmp_path).check(["triage_reply"])


def test_a_custom_folder_replaces_the_packaged_templates(tmp_path: Path) -> None:
    (tmp_path / "triage_reply.subject.j2").write_text("Sorry: {{ standard_subject }} & co\n")
    (tmp_path / "triage_reply.txt.j2").write_text("Write to {{ address }} & co\n")
    (tmp_path / "triage_reply.html.j2").write_text("<p>Write to {{ address }}</p>\n")
    mail = MailRenderer(tmp_path).render("triage_reply", triage_reply(address="a&b@police.example"))
    assert mail == RenderedMail(
        "Sorry: Strategy discussion & co",
        "Write to a&b@police.example & co\n",
        "<p>Write to a&amp;b@police.example</p>\n",
    )


def test_a_missing_template_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "triage_reply.subject.j2").write_text('{% include "_missing.txt.j2" %}\n')
    with pytest.raises(ConfigError, match=r"_missing\.txt\.j2"):
        MailRenderer(tmp_path).render("triage_reply", triage_reply())


# -- the message on the wire ---------------------------------------------------------------

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
INVITE = Attachment("invite.ics", "text/calendar", ICS, inline_alternative=True, params=(("method", "REQUEST"),))
SENT = london("2026-11-23 09:00")


def outgoing(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "purpose": "confirmation",
        "to": ("alex.morgan@council.example",),
        "cc": ("nurse@nhs.example", "dsl@school.council.example"),
        "subject": "Strategy discussion booked: N146782 on Wed 25 Nov at 10:00",
        "text": "Dear Alex Morgan,\n\nBooked for Wednesday 25 November 2026 at 10:00.\n",
        "html": "<p>Booked for <strong>Wednesday 25 November 2026</strong> at 10:00.</p>\n",
        "message_id": "<SD000001.confirmation@police.example>",
        "in_reply_to": "<request-1@council.example>",
        "references": ("<request-1@council.example>", "<reply-2@council.example>"),
        "case_id": "SD000001",
        "attachments": (INVITE,),
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def wire(out: OutgoingEmail, from_name: str = "PVP Referral Unit", x_loop: str = "referrals@police.example") -> bytes:
    return build_message(out, from_name, "referrals@police.example", x_loop, SENT)


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_the_message_is_addressed_threaded_and_marked_automatic() -> None:
    msg = parse(wire(outgoing()))
    assert msg["From"] == "PVP Referral Unit <referrals@police.example>"
    assert msg["To"] == "alex.morgan@council.example"
    assert msg["Cc"] == "nurse@nhs.example, dsl@school.council.example"
    assert msg["Subject"] == "Strategy discussion booked: N146782 on Wed 25 Nov at 10:00"
    assert parsedate_to_datetime(msg["Date"]) == SENT
    assert msg["Message-ID"] == "<SD000001.confirmation@police.example>"
    assert msg["In-Reply-To"] == "<request-1@council.example>"
    assert msg["References"] == "<request-1@council.example> <reply-2@council.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Loop"] == "referrals@police.example"
    assert msg["MIME-Version"] == "1.0"


def test_headers_are_left_out_when_there_is_nothing_to_put_in_them() -> None:
    msg = parse(wire(outgoing(cc=(), in_reply_to=None, references=(), attachments=())))
    assert msg["Cc"] is None and msg["In-Reply-To"] is None and msg["References"] is None
    assert msg.get_content_type() == "multipart/alternative"


def test_the_invitation_is_an_alternative_part_and_an_attachment() -> None:
    msg = parse(wire(outgoing()))
    assert [part.get_content_type() for part in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/ics",
    ]
    calendar_part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST" and calendar_part.get_content_charset() == "utf-8"
    assert calendar_part.get_payload(decode=True) == ICS  # CRLF line ends intact, as RFC 5545 wants
    attached = next(p for p in msg.walk() if p.get_content_type() == "application/ics")
    assert attached.get_filename() == "invite.ics" and attached.get_content_disposition() == "attachment"
    assert attached.get_payload(decode=True) == ICS
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert "Booked for Wednesday 25 November 2026 at 10:00." in text.get_content()
    assert "<strong>Wednesday 25 November 2026</strong>" in html.get_content()
    assert text.get_content_charset() == "utf-8"


def test_other_attachments_are_ordinary_files_beside_the_body() -> None:
    document = Attachment("Minutes N146782.docx", "application/vnd.openxmlformats", b"PK\x03\x04data")
    msg = parse(wire(outgoing(attachments=(document,))))
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/vnd.openxmlformats",
    ]
    part = list(msg.iter_attachments())[0]
    assert part.get_filename() == "Minutes N146782.docx" and part.get_payload(decode=True) == b"PK\x03\x04data"


def test_header_injection_is_neutralised_everywhere() -> None:
    out = outgoing(
        subject="Booked: N146782\r\nBcc: victim@evil.example",
        to=("alex.morgan@council.example\r\nBcc: a@evil.example",),
        in_reply_to="<request-1@council.example>\nBcc: b@evil.example",
        references=("<request-1@council.example>\r\nX-Evil: 1",),
        message_id="<SD000001@police.example>\rBcc: c@evil.example",
    )
    raw = wire(out, from_name="PVP\r\nBcc: d@evil.example", x_loop="referrals@police.example\nBcc: e@evil.example")
    msg = parse(raw)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert re.search(rb"\r\n(Bcc|X-Evil):", raw, re.IGNORECASE) is None
    assert msg["Subject"] == "Booked: N146782 Bcc: victim@evil.example"
    assert msg["X-Loop"] == "referrals@police.example Bcc: e@evil.example"


def test_the_message_uses_crlf_and_survives_non_ascii() -> None:
    subject = "Strategy discussion booked: N146782, N146783, N146784 on Wed 25 Nov at 10:00 — Siân"
    out = outgoing(subject=subject, text="Siân Ó Dálaigh\n", html="<p>Siân</p>\n")
    raw = wire(out, from_name="Uned Atgyfeirio — Siân")
    assert re.search(rb"(?<!\r)\n", raw) is None
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    raw.decode("ascii")  # every non-ASCII character is encoded
    msg = parse(raw)
    assert msg["Subject"] == subject  # folded over lines, read back without a stray leading space
    assert msg["From"].addresses[0].display_name == "Uned Atgyfeirio — Siân"
    body = msg.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Siân Ó Dálaigh"
