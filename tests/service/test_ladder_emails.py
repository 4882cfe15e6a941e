"""The emails of the urgent ladder past 90 minutes, and how each says to stop it (issue 12 §2)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.mail.rendering import MailRenderer, RenderedMail
from tests.service.test_timer_templates import context


@pytest.fixture(scope="module")
def renderer() -> MailRenderer:
    return MailRenderer()


def render(renderer: MailRenderer, purpose: str, **overrides: Any) -> RenderedMail:
    return renderer.render(purpose, context(purpose, **overrides))


def test_escalation_120_tells_the_mash_manager_who_to_ring_and_that_it_will_come_again(
    renderer: MailRenderer,
) -> None:
    mail = render(renderer, "escalation_120")
    text = " ".join(mail.text.split())
    assert mail.text.startswith("Service Manager, MASH,\n")
    assert "received at 09:12 on Wednesday 25 November 2026. 120 minutes later, no police contact" in text
    assert "Please make sure police ring the Team Manager now." in text
    assert "Contact number: 01632 960123" in text
    assert "Detective sergeants: DS Sam Carver on 101 Extn 345458, DS Priya Lowe on 101 Extn 343260." in text
    assert "This email goes to you again every 60 minutes, at most 6 times, until police contact is recorded." in text
    assert "<strong>DS Sam Carver</strong> on <strong>101 Extn 345458</strong>" in mail.html


@pytest.mark.parametrize(("repeat", "left"), [(1, "5 more at most"), (2, "4 more at most"), (5, "1 more at most")])
def test_each_repeat_says_how_long_and_which_of_how_many(renderer: MailRenderer, repeat: int, left: str) -> None:
    mail = render(renderer, "escalation_repeat", repeat=repeat, minutes_since=120 + 60 * repeat)
    assert mail.subject.endswith(f"after {120 + 60 * repeat} minutes (reminder {repeat} of 6)")
    html = mail.html.replace("<strong>", "").replace("</strong>", "")
    for body in (" ".join(mail.text.split()), " ".join(html.split())):
        assert f"Reminder {repeat} of 6: {120 + 60 * repeat} minutes have passed since the URGENT S47 ENQUIRY" in body
        assert f"The bot sends this reminder again every 60 minutes until police contact is recorded ({left})" in body
        assert "last reminder" not in body


@pytest.mark.parametrize(
    ("purpose", "last"), [("escalation_repeat", {"repeat": 6}), ("escalation_120", {"repeats": 0})]
)
def test_the_last_reminder_says_a_person_must_follow_up(
    renderer: MailRenderer, purpose: str, last: dict[str, int]
) -> None:
    mail = render(renderer, purpose, **last)
    text = " ".join(mail.text.split())
    assert "This is the last reminder the bot sends: from now on, a person must follow this case up by hand" in text
    assert "again every" not in text and "more at most" not in text
    assert "Once they have, reply to this email with CONTACTED on the first line" in text


# Every email of the ladder says how to stop it, in words its reader can act on (issue 12 §2).
STOP_WORDS = {
    "escalation_60": "once police have rung you, reply to this email with CONTACTED on the first line "
    "(or CONTACTED 16:00, with the time of the strategy meeting you agreed)",
    "escalation_90": "once police have rung the Team Manager, reply to this email with CONTACTED on the first line "
    "(or CONTACTED 16:00, with the time of the strategy meeting agreed)",
    "escalation_120": "once police have rung the Team Manager, reply to this email with CONTACTED on the first line "
    "(or CONTACTED 16:00, with the time of the strategy meeting agreed). The Team Manager, Admin Support or "
    "the referral unit can send it",
    "escalation_repeat": "once police have rung the Team Manager, reply to this email with CONTACTED on the first "
    "line (or CONTACTED 16:00, with the time of the strategy meeting agreed)",
}


@pytest.mark.parametrize("purpose", STOP_WORDS)
def test_every_ladder_email_says_how_to_stop_it(renderer: MailRenderer, purpose: str) -> None:
    mail = render(renderer, purpose)
    html = mail.html.replace("<strong>", "").replace("</strong>", "")
    for body in (" ".join(mail.text.split()), " ".join(html.split())):
        assert f"To stop these reminders: {STOP_WORDS[purpose]}" in body
