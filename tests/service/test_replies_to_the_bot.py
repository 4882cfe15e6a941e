"""Replies to the bot itself (domain.md §1.2, issue 13 item 5), replayed on the simulated clock."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from bot.service.bot_replies import agenda_message_id
from tests.support.replays import replay, sent
from tests.support.requests_mail import LONDON, london, request_email

DS = "DS Sam Carver <sam.carver@police.example>"


def _request(at: str, manager: str, email: str, **kw: object) -> tuple:
    when = london(at)
    raw = request_email(
        when,
        sender=f"{manager} <{email}>",
        manager=manager,
        message_id=f"<{when:%H%M}.{email}>",
        **kw,  # type: ignore[arg-type]
    )
    return when, raw


def _reply(at: str, in_reply_to: str, subject: str, body: str, sender: str = DS) -> tuple:
    when = london(at)
    domain = sender.rsplit("@", 1)[1].rstrip(">")
    raw = request_email(
        when,
        subject=subject,
        sender=sender,
        auth=f"mx.police.example; dmarc=pass header.from={domain}",
        message_id=f"<reply.{when:%Y%m%d%H%M%S}@{domain}>",
        in_reply_to=in_reply_to,
        body=body,
    )
    return when, raw


def _three_bookings_on_wednesday() -> list[tuple]:
    return [
        _request("2026-11-23 09:00", "Alex Morgan", "alex.morgan@council.example", n_number="N146782"),
        _request("2026-11-23 09:10", "Bea Jones", "bea.jones@council.example", n_number="N246782"),
        _request("2026-11-23 09:20", "Cal Smith", "cal.smith@council.example", n_number="N346782"),
    ]


def test_delay_in_reply_to_the_agenda_tells_the_later_tm_pms_and_opens_no_case(tmp_path: Path) -> None:
    agenda = agenda_message_id(date(2026, 11, 25), "police.example")
    delay = _reply("2026-11-25 10:05", agenda, "RE: Strategy discussions today, Wed 25 Nov: 3 booked", "DELAY 20\n")
    events = replay(tmp_path, [*_three_bookings_on_wednesday(), delay], london("2026-11-25 10:06"))
    received = [e for e in events if e["event"] == "received"]
    assert [e["case"] for e in received] == ["SD000001", "SD000002", "SD000003", None]
    after = [m for m in sent(events, LONDON) if m.at == london("2026-11-25 10:05")]
    assert [(m.purpose, m.to, m.cc, m.case) for m in after] == [
        ("delay_notice", ("bea.jones@council.example",), (), "SD000002"),
        ("delay_notice", ("cal.smith@council.example",), (), "SD000003"),
    ]
    assert after[0].subject == "Potential delay: strategy discussion N246782 at 10:15"
    assert after[1].subject == "Potential delay: strategy discussion N346782 at 10:30"
    assert not [m for m in sent(events) if m.purpose in ("missing_information", "command_help")]


def test_anything_else_in_reply_to_the_agenda_gets_command_help(tmp_path: Path) -> None:
    agenda = agenda_message_id(date(2026, 11, 25), "police.example")
    thanks = _reply("2026-11-25 09:20", agenda, "RE: Strategy discussions today, Wed 25 Nov: 3 booked", "Thanks\n")
    events = replay(tmp_path, [*_three_bookings_on_wednesday(), thanks], london("2026-11-25 09:21"))
    after = [m for m in sent(events, LONDON) if m.at == london("2026-11-25 09:20")]
    assert [(m.purpose, m.to, m.cc, m.case) for m in after] == [
        ("command_help", ("sam.carver@police.example",), (), None)
    ]
    assert [e["case"] for e in events if e["event"] == "received"][-1] is None


def test_a_request_in_a_cancelled_cases_thread_is_booked_as_new(tmp_path: Path) -> None:
    first = _request("2026-11-23 09:00", "Alex Morgan", "alex.morgan@council.example")
    cancel = _reply(
        "2026-11-23 10:00",
        "<SD000001.confirmation.1@police.example>",
        "RE: Strategy discussion booked: N146782 on Wed 25 Nov at 10:00",
        "CANCEL\n",
        sender="Alex Morgan <alex.morgan@council.example>",
    )
    again_at = london("2026-11-23 11:00")
    again = request_email(
        again_at,
        subject="RE: Cancelled: strategy discussion N146782 on Wed 25 Nov at 10:00",
        message_id="<again@council.example>",
        in_reply_to="<SD000001.cancellation.1@police.example>",
    )
    events = replay(tmp_path, [first, cancel, (again_at, again)], london("2026-11-23 11:01"))
    assert [e["case"] for e in events if e["event"] == "received"] == ["SD000001", "SD000001", "SD000002"]
    booked = [e for e in events if e["event"] == "booked"]
    assert [(e["case"], e["start"]) for e in booked] == [
        ("SD000001", "2026-11-25T10:00:00+00:00"),
        ("SD000002", "2026-11-25T10:00:00+00:00"),
    ]
    last = [m for m in sent(events, LONDON) if m.at == again_at and m.purpose == "confirmation"]
    assert [(m.to, m.case) for m in last] == [(("alex.morgan@council.example",), "SD000002")]
    assert not [m for m in sent(events) if m.purpose == "command_help"]


def test_a_thank_you_in_a_cancelled_cases_thread_books_nothing(tmp_path: Path) -> None:
    first = _request("2026-11-23 09:00", "Alex Morgan", "alex.morgan@council.example")
    alex = "Alex Morgan <alex.morgan@council.example>"
    cancel = _reply(
        "2026-11-23 10:00", "<SD000001.confirmation.1@police.example>", "RE: Strategy discussion", "CANCEL\n", alex
    )
    thanks = _reply(
        "2026-11-23 11:00",
        "<SD000001.cancellation.1@police.example>",
        "RE: Cancelled: strategy discussion N146782 on Wed 25 Nov at 10:00",
        "Thanks\n",
        alex,
    )
    events = replay(tmp_path, [first, cancel, thanks], london("2026-11-23 11:01"))
    assert [e["case"] for e in events if e["event"] == "received"] == ["SD000001"] * 3
    assert len([e for e in events if e["event"] == "booked"]) == 1


def test_a_stray_reply_to_an_admin_notice_opens_nothing(tmp_path: Path) -> None:
    # A request from outside the trusted domains makes the administrator's quarantine notice;
    # the administrator's reply to it, with a request subject and template, opens no case.
    forged = _request("2026-11-23 09:00", "Mal Lory", "mal@evil.example")
    notice = f"<quarantine_notice.{hashlib.sha256(b'<0900.mal@evil.example>').hexdigest()[:24]}@police.example>"
    admin = "Bot Admin <bot.admin@police.example>"
    body = "Please book this one.\n\nN number: N146782\nContact number: 01632 960123\nReason: neglect\n"
    stray = _reply("2026-11-23 09:30", notice, "RE: Strategy discussion N146782", body, admin)
    events = replay(tmp_path, [forged, stray], london("2026-11-23 09:31"))
    assert [(m.purpose, m.to) for m in sent(events) if m.at == london("2026-11-23 09:00")] == [
        ("quarantine_notice", ("bot.admin@police.example",))
    ]
    assert [e.get("case") for e in events if e["event"] == "received"][-1] is None
    assert not [e for e in events if e["event"] == "booked"]
    assert [(m.purpose, m.to, m.cc) for m in sent(events) if m.at == london("2026-11-23 09:30")] == [
        ("command_help", ("bot.admin@police.example",), ())
    ]
