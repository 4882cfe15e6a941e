"""URGENT subjects and their near misses on the simulated clock (domain.md §1, issue 12 §1).

A subject that says "urgent" or names S47 but is not the URGENT subject is handled as before,
and police hear of it at once, and the sender is told plainly that it was not treated as urgent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.domain.model import CalendarEvent, Requester
from bot.mail.rendering import MailRenderer
from bot.replay import Replay, load
from tests.support.replays import Sent, sent, write_received
from tests.support.requests_mail import LONDON, london, plain_text, queued_emails, request_email

TM = "alex.morgan@council.example"
DUTY_DS = "duty.ds@police.example"
UNIT = "referrals@police.example"
HEALTH = "health.safeguarding@nhs.example"
SCHOOL = "dsl@school.council.example"
NOT_URGENT = (
    'NOT TREATED AS URGENT: your email\'s subject, "{subject}", is not an URGENT S47 ENQUIRY subject, so it was '
    "NOT treated as an urgent Section 47 enquiry and police have not been asked to ring you within the hour. "
    "The duty detective sergeant and the referral unit have been told. If this is a live Section 47 enquiry, "
    "send it again now with this subject: {resend}"
)


@dataclass(frozen=True)
class Replayed:
    """What a replay printed, and every email as its recipients read it, in the order queued."""

    events: list[dict[str, Any]]
    emails: list[EmailMessage]

    def sent(self) -> list[Sent]:
        return [e for e in sent(self.events, LONDON) if e.purpose != "daily_agenda"]


def run(
    folder: Path, messages: list[tuple[datetime, bytes]], until: datetime, busy: tuple[CalendarEvent, ...] = ()
) -> Replayed:
    """``strategy-bot replay`` over ``messages``, keeping its state to read the emails' text afterwards.

    ``busy`` are put in the strategy calendar by hand first.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(messages)]
    state = folder / "state"
    state.mkdir()
    engine = Replay(load_config(None, base=folder), workdir=state)
    try:
        with engine.bot.store.transaction():
            for event in busy:
                engine.bot.calendar.book(event)
        events = [event for _, _, found in engine.run(load(paths), until) for event in found]
        return Replayed(events, queued_emails(engine.bot))
    finally:
        engine.close()


def emails_of(replayed: Replayed) -> list[tuple[datetime, str, tuple[str, ...], tuple[str, ...], str]]:
    return [(e.at, e.purpose, e.to, e.cc, e.subject) for e in replayed.sent()]


def text_of(replayed: Replayed, purpose: str, to: str) -> str:
    """The plain text of the one email for ``purpose`` sent to ``to``, whitespace runs made one space."""
    found = [m for m in replayed.emails if _purpose(m) == purpose and to in str(m["To"])]
    assert len(found) == 1, (purpose, to, len(found))
    return " ".join(plain_text(found[0]).split())


def _purpose(msg: EmailMessage) -> str:
    """The purpose a Message-ID names: ``<SD000001.confirmation.1@…>`` or ``<near_miss_alert.ab12…@…>``."""
    local = str(msg["Message-ID"]).strip("<>").split("@", 1)[0]
    parts = local.split(".")
    return parts[1] if re.fullmatch(r"SD\d+", parts[0]) else parts[0]


# -- the URGENT subject in its spellings --------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "URGENT: S47 ENQUIRY N311907",
        "URGENT - S47 ENQUIRY N311907",
        "Urgent \u2013 S.47 Inquiry N311907",
        "URGENT Section 47 ENQUIRIES N311907",
    ],
)
def test_every_spelling_of_the_urgent_subject_starts_the_clock_and_is_no_near_miss(
    tmp_path: Path, subject: str
) -> None:
    t0 = london("2026-11-23 14:02")
    raw = request_email(t0, subject=subject, n_number="N311907")
    replayed = run(tmp_path / "mail", [(t0, raw)], until=t0 + timedelta(minutes=1))
    [received] = [e for e in replayed.events if e["event"] == "received"]
    assert received["kind"] == "urgent"
    assert [(e.at, e.purpose, e.to, e.cc) for e in replayed.sent()] == [
        (t0, "urgent_acknowledgement", (TM,), ()),
        (t0, "duty_referral", (DUTY_DS,), (UNIT,)),
    ]


# -- near misses -----------------------------------------------------------------------------


def test_a_near_miss_standard_request_is_booked_and_police_are_told_at_once(tmp_path: Path) -> None:
    t0 = london("2026-11-23 09:12")  # a Monday morning
    subject = "Urgent strategy discussion N146782"
    replayed = run(tmp_path / "mail", [(t0, request_email(t0, subject=subject))], until=t0 + timedelta(hours=1))
    [received] = [e for e in replayed.events if e["event"] == "received"]
    assert received["kind"] == "standard"
    assert emails_of(replayed) == [
        (t0, "confirmation", (TM,), (HEALTH, SCHOOL), "Strategy discussion booked: N146782 on Wed 25 Nov at 10:00"),
        (
            t0,
            "near_miss_alert",
            (DUTY_DS,),
            (UNIT,),
            "Check now: N146782 may be a live enquiry; no police call-back arranged (SD000001)",
        ),
    ]
    confirmation = text_of(replayed, "confirmation", TM)
    assert NOT_URGENT.format(subject=subject, resend="URGENT S47 ENQUIRY N146782") in confirmation
    assert "Your strategy discussion for N146782 (Bond children) is booked." in confirmation

    alert = text_of(replayed, "near_miss_alert", DUTY_DS)
    assert "so the bot did NOT treat it as an urgent Section 47 enquiry" in alert
    for line in (
        "N number(s): N146782",
        f"From: {TM}",
        f"Subject: {subject}",
        "Received: Monday 23 November 2026 at 09:12",
        "Case: SD000001",
        "booked in the rota for Wednesday 25 November 2026 at 10:00",
        "The sender has been told that it was not treated as urgent, and to send it again with the subject "
        '"URGENT S47 ENQUIRY N146782"',
    ):
        assert line in alert
    # The alert names the N number, the sender and the subject: no surname, no reason, no phone.
    for personal in ("Bond", "neglect", "01632"):
        assert personal not in alert


def test_a_near_miss_request_with_details_missing_warns_in_the_request_for_them(tmp_path: Path) -> None:
    t0 = london("2026-11-25 15:40")
    subject = "S.47 strategy discussion N146782"
    raw = request_email(t0, subject=subject, phone=None)
    replayed = run(tmp_path / "mail", [(t0, raw)], until=t0 + timedelta(minutes=1))
    assert emails_of(replayed) == [
        (t0, "missing_information", (TM,), (), "Strategy discussion N146782: information needed"),
        (
            t0,
            "near_miss_alert",
            (DUTY_DS,),
            (UNIT,),
            "Check now: N146782 may be a live enquiry; no police call-back arranged (SD000001)",
        ),
    ]
    asking = text_of(replayed, "missing_information", TM)
    assert NOT_URGENT.format(subject=subject, resend="URGENT S47 ENQUIRY N146782") in asking
    assert "a contact number" in asking
    alert = text_of(replayed, "near_miss_alert", DUTY_DS)
    assert "Not booked yet: the sender has been asked for missing details." in alert


def test_a_near_miss_unrecognised_subject_goes_to_triage_and_police_are_told_on_a_saturday_night(
    tmp_path: Path,
) -> None:
    t0 = london("2026-11-28 23:41")  # nothing about a near miss waits for a working day
    subject = "urgent N146782 please ring"
    raw = request_email(t0, subject=subject, body="Please ring me about N146782 as soon as you can.\n\nAlex\n")
    replayed = run(tmp_path / "mail", [(t0, raw)], until=t0 + timedelta(minutes=1))
    [received] = [e for e in replayed.events if e["event"] == "received"]
    assert (received["kind"], received["case"]) == ("unrecognised", None)
    assert emails_of(replayed) == [
        (t0, "triage_reply", (TM,), (), "Not recognised by the strategy discussion bot: passed to a person"),
        (
            t0,
            "near_miss_alert",
            (DUTY_DS,),
            (UNIT,),
            "Check now: N146782 may be a live enquiry; no police call-back arranged",
        ),
    ]
    triage = text_of(replayed, "triage_reply", TM)
    assert NOT_URGENT.format(subject=subject, resend="URGENT S47 ENQUIRY N146782") in triage
    alert = text_of(replayed, "near_miss_alert", DUTY_DS)
    for line in (
        "N number(s): N146782",
        "Received: Saturday 28 November 2026 at 23:41",
        "Case: none opened",
        'Not recognised as a request: moved to the "Triage" folder for a person at the referral unit. '
        "No case was opened and nothing was booked.",
    ):
        assert line in alert


def test_a_near_miss_naming_no_n_number_says_so(tmp_path: Path) -> None:
    t0 = london("2026-11-24 10:05")
    raw = request_email(t0, subject="S47 - please call", body="Please call me back.\n")
    replayed = run(tmp_path / "mail", [(t0, raw)], until=t0 + timedelta(minutes=1))
    assert [(e.purpose, e.to, e.cc, e.subject) for e in replayed.sent()] == [
        ("triage_reply", (TM,), (), "Not recognised by the strategy discussion bot: passed to a person"),
        (
            "near_miss_alert",
            (DUTY_DS,),
            (UNIT,),
            "Check now: an email (no N number) may be a live enquiry; no police call-back arranged",
        ),
    ]
    assert "send it again now with this subject: URGENT S47 ENQUIRY N…" in text_of(replayed, "triage_reply", TM)
    assert "N number(s): none found" in text_of(replayed, "near_miss_alert", DUTY_DS)


def test_a_near_miss_that_gets_no_reply_of_its_own_gets_a_short_one(tmp_path: Path) -> None:
    # Every rota morning for six weeks is taken by hand: nothing can be booked, so no confirmation.
    days = [london("2026-11-25 10:00") + timedelta(days=d) for d in range(42)]
    busy = tuple(
        CalendarEvent(uid=f"training-{day:%m%d}", subject="Training", start=day, end=day + timedelta(minutes=90))
        for day in days
        if day.weekday() in (0, 2, 4)
    )
    t0 = london("2026-11-23 09:12")
    subject = "URGENT strategy discussion N146782"
    replayed = run(tmp_path / "mail", [(t0, request_email(t0, subject=subject))], t0 + timedelta(minutes=1), busy)
    assert emails_of(replayed) == [
        (t0, "timescale_at_risk", (TM,), (UNIT,), "Strategy discussion N146782: no free slot, passed to a person"),
        (t0, "near_miss_alert", (TM,), (), "Not treated as an URGENT S47 ENQUIRY: N146782 (SD000001)"),
        (
            t0,
            "near_miss_alert",
            (DUTY_DS,),
            (UNIT,),
            "Check now: N146782 may be a live enquiry; no police call-back arranged (SD000001)",
        ),
    ]
    notices = [m for m in replayed.emails if _purpose(m) == "near_miss_alert"]
    to_sender = " ".join(plain_text(notices[0]).split())
    assert to_sender.startswith(
        "Dear Alex Morgan, " + NOT_URGENT.format(subject=subject, resend="URGENT S47 ENQUIRY N146782")
    )
    to_police = " ".join(plain_text(notices[1]).split())
    assert "No free slot was found, so it waits for a person at the referral unit." in to_police


def test_a_reply_in_a_case_s_thread_is_not_a_near_miss(tmp_path: Path) -> None:
    t0 = london("2026-11-23 09:00")
    request = request_email(t0, message_id="<req@council.example>")
    at = t0 + timedelta(minutes=30)
    reply = request_email(
        at,
        subject="RE: urgent - Strategy discussion booked: N146782",
        message_id="<reply@council.example>",
        in_reply_to="<SD000001.confirmation.1@police.example>",
        body="COMPLEX\n\nThanks\n",
    )
    replayed = run(tmp_path / "mail", [(t0, request), (at, reply)], until=at + timedelta(minutes=1))
    assert [e["kind"] for e in replayed.events if e["event"] == "received"] == ["standard", "reply"]
    assert [e.purpose for e in replayed.sent()] == ["confirmation", "confirmation"]


def test_a_near_miss_from_an_untrusted_sender_is_quarantined_and_nobody_else_is_told(tmp_path: Path) -> None:
    t0 = london("2026-11-23 09:00")
    raw = request_email(t0, subject="Urgent strategy discussion N146782", sender="Someone <someone@gmail.example>")
    replayed = run(tmp_path / "mail", [(t0, raw)], until=t0 + timedelta(minutes=1))
    # replay's last line is the compliance figures (issue 14): none here, no case was opened.
    assert [e["event"] for e in replayed.events if e["event"] != "email"] == ["received", "quarantined", "compliance"]
    assert [(e.purpose, e.to) for e in replayed.sent()] == [("quarantine_notice", ("bot.admin@police.example",))]


def test_the_duty_ds_replying_to_an_alert_opens_no_case_and_raises_no_alert(tmp_path: Path) -> None:
    # A reply to the bot's own mail of no case (domain.md §1.2): neither a request nor a near
    # miss; the DS gets the short list of words the bot understands.
    t0 = london("2026-11-28 23:41")
    raw = request_email(t0, subject="urgent N146782 please ring", body="Please ring me about N146782.\n")
    at = t0 + timedelta(minutes=20)
    replayed = run(tmp_path / "mail", [(t0, raw)], until=t0 + timedelta(minutes=1))
    [alert] = [m for m in replayed.emails if _purpose(m) == "near_miss_alert"]
    ds_reply = request_email(
        at,
        subject=f"RE: {alert['Subject']}",
        sender="Duty DS <duty.ds@police.example>",
        auth="mx.police.example; dmarc=pass header.from=police.example",
        message_id="<ds-reply@police.example>",
        in_reply_to=str(alert["Message-ID"]),
        body="I have rung Alex, it is not urgent.\n",
    )
    replayed = run(tmp_path / "again", [(t0, raw), (at, ds_reply)], until=at + timedelta(minutes=1))
    assert [(e["kind"], e["case"]) for e in replayed.events if e["event"] == "received"] == [
        ("unrecognised", None),
        ("reply", None),
    ]
    assert [(e.at, e.purpose, e.to) for e in replayed.sent()] == [
        (t0, "triage_reply", (TM,)),
        (t0, "near_miss_alert", (DUTY_DS,)),
        (at, "command_help", (DUTY_DS,)),
    ]


def test_an_alert_whose_sender_was_held_back_by_the_reply_limits_says_so() -> None:

    renderer = MailRenderer()
    context = {
        "bot_name": "Strategy discussion bot",
        "referral_unit_name": "PVP Referral Unit",
        "referral_unit": UNIT,
        "case_id": None,
        "meeting_name": "",
        "requester": Requester(),
        "for_sender": False,
        "n_numbers": ["N146782"],
        "sender": TM,
        "subject": "urgent <N146782> please ring",
        "received": london("2026-11-28 23:41"),
        "handling": "triaged",
        "state": None,
        "booked_start": None,
        "sender_told": False,
        "triage_folder": "Triage",
        "resend_subject": "URGENT S47 ENQUIRY N146782",
    }
    mail = renderer.render("near_miss_alert", context)
    text = " ".join(mail.text.split())
    assert "The sender has NOT been told: the bot's limit on replies to them was reached. Please contact them." in text
    assert "Subject: urgent <N146782> please ring" in text
    assert "urgent &lt;N146782&gt; please ring" in mail.html
