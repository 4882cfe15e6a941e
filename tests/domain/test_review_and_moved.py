"""REVIEW <date>, FURTHER and MOVED <email> as rules (domain.md §5, §6): the date read, the decisions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.domain.cases import CommandGiven, decide
from bot.domain.commands import Command, NotUnderstood, read_command
from bot.domain.decisions import CaseTimer, Decision, FamilyMoved, FurtherDiscussion, TimersToCancel
from bot.domain.model import CaseState, Kind
from bot.domain.purposes import Purpose
from bot.domain.review_dates import ReviewDate, read_review_date, review_day
from tests.domain.test_cases import HEALTH, LONDON, NOW, POLICY, TM, view

S = CaseState


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14/12", ReviewDate(14, 12)),
        ("14/12/2026", ReviewDate(14, 12, 2026)),
        ("14/12/26", ReviewDate(14, 12, 2026)),
        ("14.12", ReviewDate(14, 12)),
        ("4/1", ReviewDate(4, 1)),
        ("14 Dec", ReviewDate(14, 12)),
        ("14 dec.", ReviewDate(14, 12)),
        ("14 December", ReviewDate(14, 12)),
        ("14th December 2026", ReviewDate(14, 12, 2026)),
        ("1 Sept", ReviewDate(1, 9)),
        ("29/2", ReviewDate(29, 2)),
        ("14/12 at the team meeting", ReviewDate(14, 12)),
        ("", None),
        ("next week", None),
        ("32/12", None),
        ("14/13", None),
        ("30/2", None),
        ("14 Decembre", None),
        ("14 Foo", None),
        ("1400", None),
    ],
)
def test_the_review_date_as_staff_write_it(text: str, expected: ReviewDate | None) -> None:
    assert read_review_date(text) == expected


@pytest.mark.parametrize(
    ("review", "today", "meant"),
    [
        (ReviewDate(14, 12), date(2026, 11, 30), date(2026, 12, 14)),  # later this year
        (ReviewDate(30, 11), date(2026, 11, 30), date(2026, 11, 30)),  # today counts
        (ReviewDate(4, 1), date(2026, 11, 30), date(2027, 1, 4)),  # the next such date: next year
        (ReviewDate(29, 2), date(2026, 11, 30), date(2028, 2, 29)),
        (ReviewDate(14, 12, 2026), date(2026, 11, 30), date(2026, 12, 14)),
        (ReviewDate(14, 11, 2026), date(2026, 11, 30), None),  # a year given and passed
    ],
)
def test_the_review_date_is_the_next_such_date_on_or_after_today(
    review: ReviewDate, today: date, meant: date | None
) -> None:
    assert review_day(review, today) == meant


def test_the_reader_knows_review_further_and_moved() -> None:
    assert read_command("REVIEW 14 Dec") == Command("REVIEW", review=ReviewDate(14, 12))
    assert read_command("review: 14/12/2026\nthanks") == Command("REVIEW", review=ReviewDate(14, 12, 2026))
    assert isinstance(read_command("REVIEW soon"), NotUnderstood)
    assert read_command("Further") == Command("FURTHER")
    assert read_command("MOVED duty@othercounty.example") == Command("MOVED", invitees=("duty@othercounty.example",))
    assert read_command("MOVED") == Command("MOVED")


def _review(text: str, now: datetime = NOW, **extra: object) -> Decision:
    command = read_command(f"REVIEW {text}")
    assert isinstance(command, Command)
    return decide(view(Kind.STANDARD, S.HELD, **extra), CommandGiven(command, TM), now, POLICY)


def test_review_sets_a_reminder_at_16_00_the_working_day_before() -> None:
    decision = _review("14/12")  # Monday 14 Dec 2026: reminded on Friday 11 Dec
    [timer] = decision.set_timers
    assert (timer.purpose, timer.due, timer.detail) == (
        Purpose.REVIEW_REMINDER,
        datetime(2026, 12, 11, 16, 0, tzinfo=LONDON),
        "2026-12-14",
    )
    assert decision.cancel_timers == (TimersToCancel(frozenset({Purpose.REVIEW_REMINDER})),)
    assert [(n.action, n.detail) for n in decision.history] == [("review", "2026-12-14")]


def test_a_review_after_christmas_is_reminded_before_the_bank_holidays() -> None:
    [timer] = _review("29 Dec").set_timers
    # 25 and 28 Dec 2026 are bank holidays (Christmas, Boxing Day substitute): Thursday 24 Dec.
    assert timer.due == datetime(2026, 12, 24, 16, 0, tzinfo=LONDON)


def test_the_same_review_date_again_keeps_its_reminder_and_a_passed_date_does_not_apply() -> None:
    pending = (
        CaseTimer(Purpose.REVIEW_REMINDER, datetime(2026, 12, 11, 16, 0, tzinfo=LONDON), "review@x", "2026-12-14"),
    )
    again = _review("14 Dec", pending=pending)
    assert again.set_timers == () and again.cancel_timers == ()
    passed = _review("14/11/2026")
    assert passed.set_timers == () and passed.cancel_timers == ()
    [refused] = passed.emails
    assert (refused.purpose, refused.to, refused.context["word"]) == (Purpose.COMMAND_REFUSED, (TM,), "REVIEW")
    assert "passed" in str(refused.context["reason"])


def test_the_review_reminder_goes_to_the_tm_and_everyone_invited() -> None:
    due = datetime(2026, 12, 11, 16, 0, tzinfo=LONDON)
    decision = decide(
        view(Kind.STANDARD, S.HELD), CaseTimer(Purpose.REVIEW_REMINDER, due, "review@x", "2026-12-14"), due, POLICY
    )
    [mail] = decision.emails
    assert (mail.purpose, mail.to, mail.cc, mail.context["review_day"]) == (
        Purpose.REVIEW_REMINDER,
        (TM,),
        (HEALTH,),
        date(2026, 12, 14),
    )
    cancelled = decide(view(Kind.STANDARD, S.CANCELLED), CaseTimer(Purpose.REVIEW_REMINDER, due), due, POLICY)
    assert not cancelled.needed


def test_further_asks_the_service_for_a_linked_case() -> None:
    decision = decide(view(Kind.STANDARD, S.HELD), CommandGiven(Command("FURTHER"), TM), NOW, POLICY)
    assert decision.change == FurtherDiscussion() and decision.state is None
    assert not decide(view(Kind.STANDARD, S.CANCELLED), CommandGiven(Command("FURTHER"), TM), NOW, POLICY).applies


@pytest.mark.parametrize(
    "invitees", [(), ("someone@council.example",), ("duty@receiving.example.evil", "x@nhs.example")]
)
def test_moved_without_a_receiving_authority_address_is_refused_and_books_nothing(invitees: tuple[str, ...]) -> None:
    decision = decide(view(Kind.STANDARD, S.BOOKED), CommandGiven(Command("MOVED", invitees=invitees), TM), NOW, POLICY)
    assert decision.change is None and decision.details is None and decision.set_timers == ()
    [mail] = decision.emails
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.COMMAND_REFUSED, (TM,), ())
    assert "receiving.example" in str(mail.context["reason"]) and "Nothing has been booked" in str(
        mail.context["reason"]
    )
    assert decision.history[0].action == "command_refused"


def test_moved_with_a_receiving_authority_address_books_a_new_discussion_with_it() -> None:
    command = Command("MOVED", invitees=("duty@mash.receiving.example", "sw@council.example"))
    decision = decide(view(Kind.STANDARD, S.HELD), CommandGiven(command, TM), NOW + timedelta(days=2), POLICY)
    assert decision.change == FamilyMoved(command.invitees)
    assert decision.details is not None
    assert decision.details.receiving_authority == ("duty@mash.receiving.example",)
    assert decision.details.invitees == ("duty@mash.receiving.example", "sw@council.example")
    assert decision.emails == ()
