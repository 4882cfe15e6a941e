"""Emergency action and children already known on the simulated clock (domain.md §3.4, issue 12 §6, §7):
what is booked or not, who is told, To and Cc apart, with which subject and words, and the minute."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.domain.model import OutgoingEmail
from bot.replay import Replay, load
from tests.support.replays import Sent, sent, write_received
from tests.support.requests_mail import LONDON, london, reply_email, request_email

TM = "alex.morgan@council.example"
OTHER_TM = "sam.jones@council.example"
UNIT = "referrals@police.example"
DUTY_DS = "duty.ds@police.example"
HEALTH = "health.safeguarding@nhs.example"
SCHOOL = "dsl@school.council.example"
# What a notice about another case must never carry (§7): the family's and the people's names.
PERSONAL = ("Bond", "Bruising", "Acacia")


def request(
    at: datetime,
    extra: str = "",
    *,
    sender: str = f"Alex Morgan <{TM}>",
    subject: str = "Strategy discussion N146782",
    phone: str = "Contact number: 01632 960123",
) -> bytes:
    """A request for N146782 in the county template, with ``extra`` lines; complete unless ``phone`` is blank."""
    body = (
        "Hello,\n\nPlease arrange a strategy discussion.\n\n"
        "N number: N146782\nChildren's surname: Bond\nRequesting manager: Alex Morgan\nRole: Team Manager\n"
        f"{phone}\nAddress: 1 Acacia Avenue\n"
        "Reason for strategy discussion: Bruising to the face reported by the school.\n"
        f"Health representative: {HEALTH}\nOther professionals to invite: {SCHOOL}\n{extra}\n\nThanks\n"
    )
    return request_email(at, subject=subject, sender=sender, message_id=f"<{at:%d%H%M}@council.example>", body=body)


def reply(at: datetime, to_message: str, first_line: str, sender: str) -> bytes:
    return reply_email(at, to_message, first_line, sender, "Strategy discussion N146782")


def run(
    folder: Path, messages: list[tuple[datetime, bytes]], until: datetime
) -> tuple[list[dict[str, Any]], list[OutgoingEmail]]:
    """``replay``'s events, and the emails themselves (for their words), daily agendas left out."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(messages)]
    engine = Replay(load_config(None, base=folder))
    events: list[dict[str, Any]] = []
    emails: list[OutgoingEmail] = []
    try:
        for _, result, found in engine.run(load(paths), until):
            events += [e for e in found if e.get("purpose") != "daily_agenda"]
            emails += [e for e in (result.emails if result else []) if e.purpose != "daily_agenda"]
    finally:
        engine.close()
    return events, emails


def seen(emails: list[Sent]) -> list[tuple[datetime, str | None, str, tuple[str, ...], tuple[str, ...], str]]:
    return [(e.at, e.case, e.purpose, e.to, e.cc, e.subject) for e in emails]


def words(email: OutgoingEmail) -> str:
    return " ".join(email.text.split())


def booked(events: list[dict[str, Any]]) -> list[tuple[str, datetime]]:
    return [(e["case"], datetime.fromisoformat(e["start"])) for e in events if e["event"] == "booked"]


# -- emergency action (§3.4) ------------------------------------------------------------------------


def test_emergency_action_on_a_tuesday_afternoon_books_wednesdays_slot(tmp_path: Path) -> None:
    received = london("2026-11-24 14:20")  # Tuesday; Wednesday is the next working day and a meeting day
    message = request(received, "Emergency action taken: Police protection, 24/11/2026 11:30")
    # Until before the day-before reminder at 16:00: what goes at once.
    events, emails = run(tmp_path / "mail", [(received, message)], until=london("2026-11-24 15:00"))
    assert booked(events) == [("SD000001", london("2026-11-25 10:00"))]
    assert seen(sent(events, LONDON)) == [
        (
            received,
            "SD000001",
            "confirmation",
            (TM,),
            (HEALTH, SCHOOL),
            "Strategy discussion booked: N146782 on Wed 25 Nov at 10:00",
        )
    ]
    # Held within the one working day, so no timescale warning and no notice.
    assert "Wednesday 25 November 2026" in words(emails[0])


def test_emergency_action_on_a_wednesday_evening_books_nothing_and_tells_both_at_once(tmp_path: Path) -> None:
    received = london("2026-11-25 17:00")  # after the cut-off: Friday's rota is after Thursday's deadline
    message = request(received, "EPO: granted today at 15:30")
    events, emails = run(tmp_path / "mail", [(received, message)], until=london("2026-11-30 12:00"))
    assert booked(events) == []
    assert seen(sent(events, LONDON)) == [
        (
            received,
            "SD000001",
            "emergency_action_notice",
            (UNIT,),
            (TM,),
            "Strategy discussion N146782: emergency action taken, no rota slot by Thu 26 Nov: arrange outside the rota",
        ),
        # The weekly compliance report (issue 14): the discussion due by Thu 26 Nov was not held.
        (
            london("2026-11-30 08:30"),
            None,
            "compliance_report",
            ("mash.manager@council.example", UNIT),
            (),
            "Strategy discussion timescales, week beginning Mon 23 Nov: 0 of 1 met",
        ),
    ]
    notice, _ = emails
    text = words(notice)
    assert "emergency action has been taken: EPO, on Wednesday 25 November 2026 at 15:30" in text
    assert "within 1 working day of the action: by Thursday 26 November 2026" in text
    assert "NOTHING HAS BEEN BOOKED" in text and "outside the rota" in text
    assert "Ring on: 01632 960123" in text
    assert "CONTACTED 14:00" in text
    html = " ".join(notice.html.replace("<strong>", "").replace("</strong>", "").split())
    assert "by Thursday 26 November 2026" in html and "nothing has been booked" in html


def test_emergency_action_without_a_date_counts_from_the_day_received(tmp_path: Path) -> None:
    # Friday after the cut-off: an ordinary request would go to Wednesday; this one is due by Monday.
    received = london("2026-11-27 16:30")
    message = request(received, "Emergency action taken: police protection")
    events, emails = run(tmp_path / "mail", [(received, message)], until=london("2026-11-27 18:00"))
    assert booked(events) == [("SD000001", london("2026-11-30 10:00"))]
    # The day-before reminder (Friday 16:00) is already due when the booking is made; `replay` stamps
    # it with its due time, so only the confirmation's minute is asserted here.
    assert [(e.at, e.purpose, e.to, e.cc) for e in sent(events, LONDON) if e.purpose != "reminder_day_before"] == [
        (received, "confirmation", (TM,), (HEALTH, SCHOOL))
    ]
    assert "Timescale:" not in words(emails[0])  # held within the one working day: no warning


def test_a_request_completed_by_a_later_reply_counts_from_the_request_not_the_reply(tmp_path: Path) -> None:
    received, completed = london("2026-11-23 10:00"), london("2026-11-24 09:00")
    messages = [
        (received, request(received, "EPO: yes", phone="")),
        (completed, reply(completed, "SD000001.missing_information.1", "Contact number: 01632 960123", TM)),
    ]
    events, emails = run(tmp_path / "mail", messages, until=london("2026-11-24 12:00"))
    # Due by Tuesday (the day after Monday's request): Wednesday's free slot is too late.
    assert booked(events) == []
    assert [(e.at, e.purpose, e.to, e.cc) for e in sent(events, LONDON)] == [
        (received, "missing_information", (TM,), ()),
        (completed, "emergency_action_notice", (UNIT,), (TM,)),
    ]
    assert "by Tuesday 24 November 2026" in words(emails[-1])
    assert "with no date given, so counted from the day the request was received (Monday 23 November 2026)" in words(
        emails[-1]
    )


# -- children already known (§3.4) --------------------------------------------------------------------


def test_a_second_request_for_the_same_child_is_booked_and_names_the_case_already_open(tmp_path: Path) -> None:
    first, second = london("2026-11-23 09:00"), london("2026-11-23 11:00")
    messages = [(first, request(first)), (second, request(second, sender=f"Sam Jones <{OTHER_TM}>"))]
    events, emails = run(tmp_path / "mail", messages, until=london("2026-11-23 12:00"))
    assert booked(events) == [("SD000001", london("2026-11-25 10:00")), ("SD000002", london("2026-11-25 10:15"))]
    assert seen(sent(events, LONDON))[1:] == [
        (
            second,
            "SD000002",
            "confirmation",
            (OTHER_TM,),
            (HEALTH, SCHOOL),
            "Strategy discussion booked: N146782 on Wed 25 Nov at 10:15",
        ),
        (
            second,
            "SD000002",
            "open_case_notice",
            (OTHER_TM,),
            (UNIT,),
            "Strategy discussion N146782: already open for these children: SD000001",
        ),
    ]
    notice = emails[-1]
    text = words(notice)
    assert "Case SD000001 (N146782): standard, booked; booked Wednesday 25 November 2026 at 10:00" in text
    assert "your new request (case SD000002) is cancelled" in text
    assert not any(p in notice.subject + text.replace("Alex Morgan", "") for p in PERSONAL)


def test_a_cancelled_case_is_not_named(tmp_path: Path) -> None:
    first, cancelled, second = london("2026-11-23 09:00"), london("2026-11-23 09:30"), london("2026-11-23 11:00")
    messages = [
        (first, request(first)),
        (cancelled, reply(cancelled, "SD000001.confirmation.1", "CANCEL", TM)),
        (second, request(second)),
    ]
    events, _ = run(tmp_path / "mail", messages, until=london("2026-11-23 12:00"))
    assert "open_case_notice" not in [e.purpose for e in sent(events)]


def test_an_urgent_request_for_a_child_with_a_booked_discussion_tells_the_referral_unit_who_may_cancel_it(
    tmp_path: Path,
) -> None:
    standard, urgent = london("2026-11-23 09:00"), london("2026-11-24 10:00")
    ds = "ds.smith@police.example"
    cancel_at = london("2026-11-24 10:20")
    messages = [
        (standard, request(standard)),
        (urgent, request(urgent, sender=f"Sam Jones <{OTHER_TM}>", subject="URGENT S47 ENQUIRY N146782")),
        (cancel_at, reply(cancel_at, "SD000001.open_case_notice.1", "CANCEL", ds)),
    ]
    events, emails = run(tmp_path / "mail", messages, until=london("2026-11-24 10:30"))
    assert seen(sent(events, LONDON))[1:] == [
        (
            urgent,
            "SD000002",
            "urgent_acknowledgement",
            (OTHER_TM,),
            (),
            "URGENT S47 ENQUIRY N146782 received: police will call by 11:00",
        ),
        (
            urgent,
            "SD000002",
            "duty_referral",
            (DUTY_DS,),
            (UNIT,),
            "URGENT S47 ENQUIRY N146782: call the TM/PM by 11:00",
        ),
        (
            urgent,
            "SD000001",
            "open_case_notice",
            (UNIT,),
            (OTHER_TM,),
            "Strategy discussion N146782: URGENT S47 ENQUIRY SD000002 for a child with this booked discussion",
        ),
        # The referral unit's CANCEL in reply reaches the booked discussion, not the enquiry.
        (
            cancel_at,
            "SD000001",
            "cancellation",
            (TM,),
            (HEALTH, SCHOOL),
            "Cancelled: strategy discussion N146782 on Wed 25 Nov at 10:00",
        ),
    ]
    text = words(next(e for e in emails if e.purpose == "open_case_notice"))
    assert "Case SD000001 (this case) (N146782): standard, booked; booked Wednesday 25 November 2026 at 10:00" in text
    assert "the booked discussion (case SD000001) is cancelled" in text
    assert "The urgent enquiry (case SD000002) is not affected" in text
