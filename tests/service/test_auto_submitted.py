"""RFC 3834 on the bot's own mail (issue 13 item 8): replies to a person's mail say ``auto-replied``,
timer mail and notices ``auto-generated``; read from the queued messages' headers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.auto_submitted import auto_submitted
from bot.wiring import Bot
from tests.service.test_follow_up import deliver, fire_until, purpose, reply, urgent
from tests.support.requests_mail import london, queued_emails, request_email


def _headers(bot: Bot) -> list[tuple[str, str, str, str]]:
    """(purpose, To, Cc, Auto-Submitted) of every queued email, in order."""
    return [(purpose(m), str(m["To"]), str(m["Cc"] or ""), str(m["Auto-Submitted"])) for m in queued_emails(bot)]


def test_a_request_is_answered_auto_replied_and_its_timer_mail_is_auto_generated(bot: Bot) -> None:
    deliver(
        bot, request_email(london("2026-11-23 09:00"), message_id="<r1@council.example>"), london("2026-11-23 09:00")
    )
    fire_until(bot, london("2026-11-25 10:01"))
    assert _headers(bot) == [
        (
            "confirmation",
            "alex.morgan@council.example",
            "health.safeguarding@nhs.example, dsl@school.council.example",
            "auto-replied",
        ),
        (
            "reminder_day_before",
            "alex.morgan@council.example",
            "health.safeguarding@nhs.example, dsl@school.council.example",
            "auto-generated",
        ),
        (
            "reminder_30_min",
            "alex.morgan@council.example",
            "health.safeguarding@nhs.example, dsl@school.council.example",
            "auto-generated",
        ),
        ("minutes_template", "alex.morgan@council.example", "", "auto-generated"),
    ]


def test_an_urgent_request_acknowledgement_is_a_reply_and_its_referral_and_ladder_are_notices(bot: Bot) -> None:
    t0 = london("2026-11-23 14:02")
    urgent(bot, t0)
    fire_until(bot, t0 + timedelta(minutes=61))
    marks = [(p, mark) for p, _, _, mark in _headers(bot)]
    assert marks == [
        ("urgent_acknowledgement", "auto-replied"),
        ("duty_referral", "auto-generated"),
        ("escalation_60", "auto-generated"),
    ]


def test_command_help_and_missing_information_are_replies(bot: Bot) -> None:
    at = london("2026-11-23 09:00")
    deliver(bot, request_email(at, phone=None, message_id="<r2@council.example>"), at)
    deliver(bot, request_email(at, n_number="N246782", message_id="<r3@council.example>"), at)
    confirmation = queued_emails(bot)[-1]
    reply(bot, confirmation, at + timedelta(minutes=5), "WHATEVER")
    assert [(p, to, mark) for p, to, _, mark in _headers(bot)] == [
        ("missing_information", "alex.morgan@council.example", "auto-replied"),
        ("confirmation", "alex.morgan@council.example", "auto-replied"),
        ("command_help", "alex.morgan@council.example", "auto-replied"),
    ]


@pytest.mark.parametrize(
    ("purpose_", "in_reply_to", "mark"),
    [
        ("confirmation", "<r@council.example>", "auto-replied"),
        ("triage_reply", "<r@council.example>", "auto-replied"),
        ("command_refused", "<r@council.example>", "auto-replied"),
        ("confirmation", None, "auto-generated"),
        ("duty_referral", "<r@council.example>", "auto-generated"),
        ("near_miss_alert", "<r@council.example>", "auto-generated"),
        ("delay_notice", "<r@council.example>", "auto-generated"),
        ("escalation_60", None, "auto-generated"),
        ("admin_alert", None, "auto-generated"),
    ],
)
def test_the_rule(purpose_: str, in_reply_to: str | None, mark: str) -> None:
    assert auto_submitted(purpose_, in_reply_to) == mark
