"""A moved booking says so (issue 13 item 8): "moved from Wed 25 Nov 10:00 to Wed 25 Nov 10:15" in its
subject and text, never "Strategy discussion booked … is booked"; read from the queued message."""

from __future__ import annotations

from email.message import EmailMessage

from bot.wiring import Bot
from tests.service.test_follow_up import booked, purpose, reply
from tests.support.requests_mail import london, plain_text, queued_emails

CC = "health.safeguarding@nhs.example, dsl@school.council.example"


def _last_confirmation(bot: Bot) -> EmailMessage:
    return [m for m in queued_emails(bot) if purpose(m) == "confirmation"][-1]


def test_a_rescheduled_booking_says_it_moved_from_the_old_time_to_the_new(bot: Bot) -> None:
    first = booked(bot, london("2026-11-23 09:00"), message_id="<w1@council.example>")
    assert first["Subject"] == "Strategy discussion booked: N146782 on Wed 25 Nov at 10:00"
    reply(bot, first, london("2026-11-23 12:00"), "RESCHEDULE")
    moved = _last_confirmation(bot)
    assert moved["Subject"] == "Strategy discussion N146782 moved from Wed 25 Nov 10:00 to Wed 25 Nov 10:15"
    assert (str(moved["To"]), str(moved["Cc"])) == ("alex.morgan@council.example", CC)
    text = plain_text(moved)
    assert "has been moved from Wed 25 Nov 10:00 to Wed 25 Nov 10:15" in text
    assert "is booked" not in text
    html = moved.get_body(("html",))
    assert html is not None and "moved from Wed 25 Nov 10:00" in str(html.get_content())
    # The answer to the RESCHEDULE reply, threaded under it, marked as a reply (RFC 3834).
    assert moved["Auto-Submitted"] == "auto-replied"


def test_a_complex_booking_moved_because_the_next_slot_is_taken_says_so(bot: Bot) -> None:
    first = booked(bot, london("2026-11-23 09:00"), message_id="<w2@council.example>")
    booked(bot, london("2026-11-23 09:05"), message_id="<w3@council.example>", n_number="N246782")
    reply(bot, first, london("2026-11-23 12:00"), "COMPLEX")
    moved = _last_confirmation(bot)
    assert moved["Subject"] == "Strategy discussion N146782 moved from Wed 25 Nov 10:00 to Wed 25 Nov 10:30"
    text = plain_text(moved)
    assert "has been moved from Wed 25 Nov 10:00 to Wed 25 Nov 10:30" in text
    assert "10:30 to 11:00 (30 minutes, complex case)" in text


def test_a_complex_booking_that_fits_in_place_says_it_is_longer_not_moved(bot: Bot) -> None:
    first = booked(bot, london("2026-11-23 09:00"), message_id="<w4@council.example>")
    reply(bot, first, london("2026-11-23 12:00"), "COMPLEX")
    longer = _last_confirmation(bot)
    assert longer["Subject"] == "Strategy discussion N146782 now 30 minutes: Wed 25 Nov 10:00 to 10:30"
    text = plain_text(longer)
    assert "is now 30 minutes long, at the same start time" in text
    assert "moved" not in text.split("Agenda")[0] and "is booked" not in text
