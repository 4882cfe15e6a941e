"""A booking that moves keeps its follow-up (issue 11 §5): timers are keyed by what they are, not when."""

from __future__ import annotations

from datetime import datetime

from bot.wiring import Bot
from tests.service.test_follow_up import booked, fire_until, reply
from tests.support.requests_mail import london

TM = ("alex.morgan@council.example",)


def plan(fired: list, case_id: str = "SD000001") -> list[tuple[datetime, str]]:
    return [(at, m.purpose) for at, r in fired for m in r.emails if m.case_id == case_id]


def test_a_rescheduled_booking_gets_its_reminders_and_minutes_pack_at_the_new_times(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<m1@council.example>")
    moved = reply(bot, confirmation, london("2026-11-23 12:00"), "RESCHEDULE")
    assert [m.purpose for m in moved.emails] == ["confirmation"]
    # Wed 25 Nov 10:00 → 10:15: the reminder the day before falls at the same instant as
    # before (Tue 16:00); it must still come, once, for the new time.
    assert plan(fire_until(bot, london("2026-11-27 12:00"))) == [
        (london("2026-11-24 16:00"), "reminder_day_before"),
        (london("2026-11-25 09:45"), "reminder_30_min"),
        (london("2026-11-25 10:15"), "minutes_template"),
        (london("2026-11-25 16:30"), "minutes_reminder"),
        (london("2026-11-26 10:30"), "minutes_overdue"),
    ]


def test_a_lengthened_booking_gets_every_reminder_though_its_start_did_not_move(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<m2@council.example>")
    lengthened = reply(bot, confirmation, london("2026-11-23 12:00"), "COMPLEX")
    assert "30 minutes" in lengthened.emails[0].text
    fired = fire_until(bot, london("2026-11-27 12:00"))
    assert plan(fired) == [
        (london("2026-11-24 16:00"), "reminder_day_before"),
        (london("2026-11-25 09:30"), "reminder_30_min"),
        (london("2026-11-25 10:00"), "minutes_template"),
        (london("2026-11-25 16:30"), "minutes_reminder"),
        (london("2026-11-26 10:30"), "minutes_overdue"),
    ]
    reminder = next(m for _, r in fired for m in r.emails if m.purpose == "reminder_30_min")
    assert reminder.to == TM and "10:00" in reminder.text and "10:30" in reminder.text


def test_a_family_moving_after_the_discussion_keeps_its_minutes_chase_and_books_a_new_one(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<m3@council.example>")
    fire_until(bot, london("2026-11-25 10:20"))  # reminders and the minutes pack of Wed 10:00
    reply(bot, confirmation, london("2026-11-25 10:20"), "HELD")
    moved = reply(
        bot,
        confirmation,
        london("2026-11-25 10:30"),
        "MOVED duty@othercounty.example",
        extra=None,
    )
    assert moved.booked, "the new discussion is booked"
    fired = plan(fire_until(bot, london("2026-11-30 12:00")))
    # The held discussion's chase goes on at its own times...
    assert (london("2026-11-25 16:15"), "minutes_reminder") in fired
    assert (london("2026-11-26 10:15"), "minutes_overdue") in fired
    # ...and the new discussion (Fri 27 Nov) has its own reminders and minutes pack.
    assert (london("2026-11-27 10:00"), "minutes_template") in fired
    assert (london("2026-11-27 09:30"), "reminder_30_min") in fired
