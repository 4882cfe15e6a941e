"""Issue 3 through the service: the urgent ladder, reminders, minutes, and replies that change a case."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from icalendar import Calendar

from bot.config import Config
from bot.mail.rendering import packaged_templates
from bot.ports import IncomingMail
from bot.service import Handled
from bot.wiring import Bot, build
from tests.support.requests_mail import london, queued_emails, request_email

DUTY_DS = "DS Sam Carver <sam.carver@police.example>"


def deliver(bot: Bot, raw: bytes, at: datetime) -> Handled:
    return bot.service.handle(IncomingMail(key="k", raw=raw, received_at=at), at)


def fire_until(bot: Bot, moment: datetime) -> list[tuple[datetime, Handled]]:
    """Fire every timer due up to ``moment`` at its own time, as the daemon and replay do."""
    fired = []
    while due := bot.service.due_timers(moment):
        timer = due[0]
        result = bot.service.handle_due(timer.id, timer.due_at)
        if result is not None:
            fired.append((timer.due_at, result))
    return fired


def purpose(msg: EmailMessage) -> str:
    local = str(msg["Message-ID"]).strip("<>").split("@")[0]
    return local.split(".")[1] if local.startswith("SD") else local.split(".")[0]


def reply(
    bot: Bot,
    to: EmailMessage,
    at: datetime,
    first_line: str,
    sender: str = "Alex Morgan <alex.morgan@council.example>",
    extra: dict[str, str] | None = None,
) -> Handled:
    raw = request_email(
        at,
        subject=f"RE: {to['Subject']}",
        sender=sender,
        message_id=f"<reply.{at:%H%M%S}.{abs(hash(first_line)) % 10**6}@example>",
        in_reply_to=str(to["Message-ID"]),
        body=f"{first_line}\n\nThanks\n\n> {to['Subject']}\n> CANCEL\n",
        auth=("mx.police.example; dmarc=pass header.from=" + sender.split("@")[1].rstrip(">")),
        extra_headers=extra,
    )
    return deliver(bot, raw, at)


def urgent(bot: Bot, at: datetime) -> EmailMessage:
    raw = request_email(
        at, subject="URGENT S47 ENQUIRY N311907", n_number="N311907", message_id="<urgent@council.example>"
    )
    deliver(bot, raw, at)
    return [m for m in queued_emails(bot) if purpose(m) == "duty_referral"][-1]


def test_the_urgent_ladder_escalates_at_60_and_90_minutes_to_the_right_people(bot: Bot) -> None:
    t0 = london("2026-11-23 14:02")
    urgent(bot, t0)
    fired = fire_until(bot, t0 + timedelta(hours=3))
    ladder = [(at, m) for at, r in fired for m in r.emails if m.purpose.startswith("escalation")]
    assert [(at, m.purpose) for at, m in ladder] == [
        (t0 + timedelta(minutes=60), "escalation_60"),
        (t0 + timedelta(minutes=90), "escalation_90"),
        (t0 + timedelta(minutes=120), "escalation_120"),
        (t0 + timedelta(minutes=180), "escalation_repeat"),
    ]
    first, second = ladder[0][1], ladder[1][1]
    assert first.to == ("alex.morgan@council.example",)
    assert first.cc == ("duty.ds@police.example", "referrals@police.example")
    assert "DS Sam Carver" in first.text and "101 Extn 345458" in first.text
    assert second.to == ("admin.support@police.example",) and second.cc == ("alex.morgan@council.example",)
    assert "mash.manager@council.example" in second.text
    assert "N311907" in first.subject and "Bond" not in first.subject


def test_contacted_stops_the_ladder_and_sends_the_minutes_pack_to_the_tm_and_ds(bot: Bot) -> None:
    t0 = london("2026-11-23 14:02")
    referral = urgent(bot, t0)
    result = reply(bot, referral, t0 + timedelta(minutes=30), "CONTACTED", sender=DUTY_DS)
    assert result.kind == "reply"
    [pack] = [m for m in result.emails if m.purpose == "minutes_template"]
    assert pack.to == ("alex.morgan@council.example", "duty.ds@police.example")
    assert any(a.filename.endswith(".docx") and "N311907" in a.filename for a in pack.attachments)
    fired = fire_until(bot, t0 + timedelta(hours=3))
    assert not [m for _, r in fired for m in r.emails if m.purpose.startswith("escalation")]


def booked(bot: Bot, at: datetime, **fields: object) -> EmailMessage:
    deliver(bot, request_email(at, **fields), at)  # type: ignore[arg-type]
    return [m for m in queued_emails(bot) if purpose(m) == "confirmation"][-1]


def test_a_booked_discussion_gets_reminders_the_minutes_pack_and_the_minutes_chase(bot: Bot) -> None:
    bot.service.ensure_agenda(london("2026-11-23 09:00"))
    booked(bot, london("2026-11-23 09:00"), message_id="<b1@council.example>")
    fired = fire_until(bot, london("2026-11-27 12:00"))
    plan = [(at, m.purpose, m.to) for at, r in fired for m in r.emails if m.case_id]
    tm = ("alex.morgan@council.example",)
    assert plan == [
        (london("2026-11-24 16:00"), "reminder_day_before", tm),
        (london("2026-11-25 09:30"), "reminder_30_min", tm),
        (london("2026-11-25 10:00"), "minutes_template", tm),
        (london("2026-11-25 16:15"), "minutes_reminder", tm),
        (london("2026-11-26 10:15"), "minutes_overdue", tm),
    ]
    reminder = next(m for _, r in fired for m in r.emails if m.purpose == "reminder_day_before")
    assert set(reminder.cc) == {"health.safeguarding@nhs.example", "dsl@school.council.example"}
    assert "0203 555 0174" in reminder.text and "76 52 87 15 then #" in reminder.text and "N146782" in reminder.text
    overdue = next(m for _, r in fired for m in r.emails if m.purpose == "minutes_overdue")
    assert overdue.cc == ("referrals@police.example",)
    agendas = [(at, m) for at, r in fired for m in r.emails if m.purpose == "daily_agenda"]
    assert [at for at, _ in agendas] == [london("2026-11-25 09:00"), london("2026-11-27 09:00")]
    assert "N146782" in agendas[0][1].text and "01632 960123" in agendas[0][1].text


def test_minutes_shared_stops_the_minutes_chase(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<b2@council.example>")
    fire_until(bot, london("2026-11-25 10:30"))
    reply(bot, confirmation, london("2026-11-25 11:00"), "MINUTES SHARED")
    fired = fire_until(bot, london("2026-11-27 12:00"))
    assert not [m for _, r in fired for m in r.emails if m.purpose.startswith("minutes_")]


def test_cancel_frees_the_slot_and_tells_every_attendee(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<b3@council.example>")
    result = reply(bot, confirmation, london("2026-11-23 12:00"), "CANCEL")
    [(case_id, event)] = result.cancelled
    assert bot.calendar.all_events() == []
    [notice] = [m for m in result.emails if m.purpose == "cancellation"]
    assert notice.to == ("alex.morgan@council.example",)
    assert set(notice.cc) == {"health.safeguarding@nhs.example", "dsl@school.council.example"}
    [ics] = [a for a in notice.attachments if a.content_type == "text/calendar"]
    vevent = next(iter(Calendar.from_ical(ics.data).walk("VEVENT")))
    cal = Calendar.from_ical(ics.data)
    assert str(cal["METHOD"]) == "CANCEL" and str(vevent["UID"]) == f"{case_id}@police.example"
    assert int(vevent["SEQUENCE"]) == 1
    # No reminder for a cancelled discussion, and the next request gets the freed slot.
    assert not [m for _, r in fire_until(bot, london("2026-11-25 12:00")) for m in r.emails if m.case_id == case_id]
    booked(bot, london("2026-11-23 13:00"), message_id="<b4@council.example>", n_number="N999001")
    [event] = bot.calendar.all_events()
    assert event.start == london("2026-11-25 10:00") and event.subject == "Strategy discussion N999001"


def test_reschedule_and_complex_move_the_booking_with_an_updated_invitation(bot: Bot) -> None:
    first = booked(bot, london("2026-11-23 09:00"), message_id="<b5@council.example>")
    booked(bot, london("2026-11-23 09:05"), message_id="<b6@council.example>", n_number="N100002")  # 10:15
    result = reply(bot, first, london("2026-11-23 12:00"), "RESCHEDULE")
    [(_, moved)] = result.moved
    assert moved.start == london("2026-11-25 10:30") and moved.sequence == 1
    [confirmation] = [m for m in result.emails if m.purpose == "confirmation"]
    assert "10:30" in confirmation.text
    # COMPLEX: 10:30-11:00 is free, so it grows in place.
    result = reply(bot, first, london("2026-11-23 12:30"), "COMPLEX")
    [(_, grown)] = result.moved
    assert (grown.start, grown.end) == (london("2026-11-25 10:30"), london("2026-11-25 11:00"))
    assert grown.sequence == 2


def test_delay_warns_every_tm_booked_later_that_day_and_only_police_may_send_it(bot: Bot) -> None:
    first = booked(bot, london("2026-11-23 09:00"), message_id="<b7@council.example>")
    booked(
        bot,
        london("2026-11-23 09:05"),
        message_id="<b8@council.example>",
        n_number="N100003",
        sender="Jo Mensah <jo.mensah@council.example>",
    )
    refused = reply(bot, first, london("2026-11-25 10:10"), "DELAY 15")
    assert [m.purpose for m in refused.emails] == ["command_help"]
    assert "police" in refused.emails[0].text
    police = reply(bot, first, london("2026-11-25 10:12"), "DELAY 15", sender=DUTY_DS)
    [notice] = [m for m in police.emails if m.purpose == "delay_notice"]
    assert notice.to == ("jo.mensah@council.example",) and "15" in notice.text


def test_outcome_sets_the_later_timescales(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<b9@council.example>")
    reply(bot, confirmation, london("2026-11-25 11:00"), "OUTCOME joint S47")
    fired = fire_until(bot, london("2026-12-17 00:00"))
    later = [(at, m.purpose) for at, r in fired for m in r.emails if m.purpose in ("s47_outcome_due", "icpc_due")]
    assert later == [
        (london("2026-11-30 09:00"), "s47_outcome_due"),
        (london("2026-12-09 09:00"), "icpc_due"),
        (london("2026-12-16 09:00"), "icpc_due"),
    ]


def test_a_reply_not_understood_gets_the_list_of_words_and_an_out_of_office_gets_nothing(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<b10@council.example>")
    before = len(queued_emails(bot))
    unclear = reply(bot, confirmation, london("2026-11-23 10:00"), "Can we make it later?")
    [help_] = unclear.emails
    assert help_.purpose == "command_help" and "RESCHEDULE" in help_.text and "CONTACTED" in help_.text
    away = reply(bot, confirmation, london("2026-11-23 10:05"), "CANCEL", extra={"Auto-Submitted": "auto-replied"})
    assert away.outcome == "ignored" and away.emails == []
    assert len(bot.calendar.all_events()) == 1
    assert len(queued_emails(bot)) == before + 1


def test_a_timer_already_due_at_restart_fires_once_and_is_marked_late(bot: Bot) -> None:
    t0 = london("2026-11-23 14:02")
    urgent(bot, t0)
    late_now = t0 + timedelta(minutes=75)
    [timer] = [t for t in bot.service.due_timers(late_now) if t.purpose == "escalation_60"]
    result = bot.service.handle_due(timer.id, late_now)
    assert result is not None and result.late
    assert bot.service.handle_due(timer.id, late_now) is None  # never twice
    with bot.store.transaction() as tx:
        entries = [h for h in tx.history(result.case_id or "") if h.action == "timer_fired"]
    assert entries and "late" in entries[0].detail


def test_a_family_that_moves_gets_a_new_discussion_within_72_hours_with_the_receiving_authority(bot: Bot) -> None:
    from bot.domain.model import CalendarEvent

    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<b11@council.example>")
    result = reply(
        bot,
        confirmation,
        london("2026-11-27 11:00"),
        "MOVED\nOther professionals to invite: mash@receiving.othercounty.example",
    )
    [(_, event)] = result.booked
    assert event.start == london("2026-11-30 10:00")  # Friday 11:00 + 72 hours is Monday 11:00
    assert "mash@receiving.othercounty.example" in event.attendees
    [confirm] = [m for m in result.emails if m.purpose == "confirmation"]
    assert "mash@receiving.othercounty.example" in confirm.cc
    assert not [m for m in result.emails if m.purpose == "timescale_at_risk"]

    # A second move when Monday is full: booked on Wednesday, and flagged as beyond 72 hours.
    with bot.store.transaction():
        bot.calendar.book(
            CalendarEvent(
                uid="full-mon", subject="Training", start=london("2026-12-07 10:00"), end=london("2026-12-07 11:30")
            )
        )
    again = reply(bot, confirmation, london("2026-12-04 11:00"), "MOVED mash@receiving.othercounty.example")
    [(_, later)] = again.booked
    assert later.start == london("2026-12-09 10:00")
    [risk] = [m for m in again.emails if m.purpose == "timescale_at_risk"]
    assert "72 hours" in risk.text and risk.cc == ("referrals@police.example",)


def test_a_timer_that_cannot_fire_tells_the_administrator_and_the_others_still_fire(
    config: Config, tmp_path: Path
) -> None:
    """An admin's edited template breaks the 60-minute escalation: a person must ring round by hand."""
    templates = tmp_path / "templates"
    shutil.copytree(packaged_templates(), templates)
    (templates / "escalation_60.txt.j2").write_text("Ring {{ ds_contacts[7].name }} now.\n")
    bot = build(dataclasses.replace(config, templates_dir=templates))
    try:
        t0 = london("2026-11-23 14:02")
        duty = urgent(bot, t0)
        before = len(queued_emails(bot))
        fired = fire_until(bot, t0 + timedelta(hours=3))
        assert [m.purpose for _, r in fired for m in r.emails] == [
            "escalation_90",
            "escalation_120",
            "escalation_repeat",
        ]
        alerts = [m for m in queued_emails(bot, before) if purpose(m) == "admin_alert"]
        assert len(alerts) == 1
        alert, body = alerts[0], alerts[0].get_body(("plain",)).get_content()
        assert alert["To"] == "bot.admin@police.example"
        assert alert["Subject"] == "A timer could not fire: escalation_60"
        case_id = str(duty["Message-ID"]).strip("<>").split(".")[0]
        assert case_id in body and "Mon 23 Nov 2026 15:02" in body
        assert "escalation_60.txt.j2" in body and "ds_contacts" not in alert["Subject"]
        assert f"strategy-bot history {case_id}" in body
        with bot.store.transaction() as tx:
            actions = [h.action for h in tx.history(case_id)]
        assert actions.count("timer_failed") == 1 and actions[-1] == "timer_fired"
    finally:
        bot.close()
