"""REVIEW, FURTHER and MOVED on the simulated clock (domain.md §5, §6; issue 13 items 3-4): who gets
what, To and Cc apart, with which subject, at which minute."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.wiring import Bot
from tests.service.test_follow_up import booked, reply
from tests.support.replays import Sent, replay, sent
from tests.support.requests_mail import london, reply_email, request_email

LONDON = ZoneInfo("Europe/London")
TM = "alex.morgan@council.example"
HEALTH = "health.safeguarding@nhs.example"
SCHOOL = "dsl@school.council.example"
UNIT = "referrals@police.example"
RECEIVING = "duty@mash.othercounty.example"  # in privacy.receiving_authority_domains, not in trust.recipient_domains


def run(tmp_path: Path, replies: list[tuple[str, str]], until: str) -> list[dict[str, Any]]:
    """A standard request on Mon 23 Nov 09:00 (booked Wed 25 Nov 10:00), then the TM's replies to its confirmation."""
    t0 = london("2026-11-23 09:00")
    messages = [(t0, request_email(t0, message_id="<r1@council.example>"))]
    for at, line in replies:
        moment = london(at)
        raw = reply_email(moment, "SD000001.confirmation.1", line, f"Alex Morgan <{TM}>", "Strategy discussion N146782")
        messages.append((moment, raw))
    return replay(tmp_path, messages, london(until))


def of(
    events: list[dict[str, Any]], *purposes: str
) -> list[tuple[datetime, str, tuple[str, ...], tuple[str, ...], str]]:
    return [(s.at, s.purpose, s.to, s.cc, s.subject) for s in sent(events, LONDON) if s.purpose in purposes]


def emails(events: list[dict[str, Any]]) -> list[Sent]:
    return sent(events, LONDON)


def test_review_reminds_the_tm_and_the_invitees_at_16_00_the_working_day_before(tmp_path: Path) -> None:
    events = run(tmp_path, [("2026-11-25 11:00", "REVIEW 14/12")], "2026-12-16 12:00")
    assert of(events, "review_reminder") == [
        (
            london("2026-12-11 16:00"),  # Monday 14 Dec: the Friday before
            "review_reminder",
            (TM,),
            (HEALTH, SCHOOL),
            "Review of agreed actions on Mon 14 Dec: strategy discussion N146782 (SD000001)",
        )
    ]


def test_a_later_review_replaces_the_earlier_reminder(tmp_path: Path) -> None:
    replies = [("2026-11-25 11:00", "REVIEW 14 Dec"), ("2026-11-26 09:00", "Review 15 December 2026")]
    events = run(tmp_path, replies, "2026-12-16 12:00")
    assert [(at, to, cc) for at, _, to, cc, _ in of(events, "review_reminder")] == [
        (london("2026-12-14 16:00"), (TM,), (HEALTH, SCHOOL))
    ]


def test_a_review_date_not_understood_gets_the_list_of_words_and_sets_nothing(tmp_path: Path) -> None:
    events = run(tmp_path, [("2026-11-25 11:00", "REVIEW in a fortnight")], "2026-12-31 12:00")
    assert of(events, "review_reminder") == []
    [help_] = of(events, "command_help")
    assert help_[:4] == (london("2026-11-25 11:00"), "command_help", (TM,), ())


def test_further_books_a_linked_case_through_the_normal_booking(tmp_path: Path) -> None:
    events = run(tmp_path, [("2026-11-26 10:00", "FURTHER")], "2026-11-27 12:00")
    booked_events = [e for e in events if e["event"] == "booked"]
    assert [(e["case"], e["start"], e["subject"]) for e in booked_events] == [
        ("SD000001", "2026-11-25T10:00:00+00:00", "Strategy discussion N146782"),
        ("SD000002", "2026-11-27T10:00:00+00:00", "Strategy discussion N146782"),
    ]
    further = [s for s in emails(events) if s.case == "SD000002"]
    assert [(s.at, s.purpose, s.to, s.cc, s.subject) for s in further] == [
        (
            london("2026-11-26 10:00"),
            "confirmation",
            (TM,),
            (HEALTH, SCHOOL),
            "Strategy discussion booked: N146782 on Fri 27 Nov at 10:00",
        ),
        (
            london("2026-11-26 16:00"),
            "reminder_day_before",
            (TM,),
            (HEALTH, SCHOOL),
            "Reminder: strategy discussion N146782 on Fri 27 Nov at 10:00",
        ),
        (
            london("2026-11-27 09:30"),
            "reminder_30_min",
            (TM,),
            (HEALTH, SCHOOL),
            "In 30 minutes: strategy discussion N146782 at 10:00",
        ),
        (
            london("2026-11-27 10:00"),
            "minutes_template",
            (TM,),
            (),
            "Minutes template: strategy discussion N146782, Fri 27 Nov 10:00",
        ),
    ]


def test_each_case_history_names_the_other_and_the_effective_day_is_the_day_of_the_reply(bot: Bot) -> None:
    confirmation = booked(bot, london("2026-11-23 09:00"), message_id="<f1@council.example>")
    result = reply(bot, confirmation, london("2026-11-25 17:30"), "FURTHER")  # after the cut-off
    [(case_id, event)] = result.booked
    assert case_id == "SD000002" and event.start == london("2026-11-27 10:00")
    with bot.store.transaction() as tx:
        first = [(h.action, h.detail) for h in tx.history("SD000001") if h.action == "linked"]
        second = [(h.action, h.detail) for h in tx.history("SD000002") if h.action == "linked"]
        new = tx.case("SD000002")
    assert first == [("linked", "further discussion booked as case SD000002")]
    assert second == [("linked", "further discussion of case SD000001")]
    assert new is not None and new.effective_day == "2026-11-25"


def test_moved_without_a_receiving_authority_is_refused_and_books_nothing(tmp_path: Path) -> None:
    replies = [("2026-11-25 10:30", "MOVED"), ("2026-11-25 10:40", "MOVED duty@elsewhere.example")]
    events = run(tmp_path, replies, "2026-11-25 12:00")
    assert [e["case"] for e in events if e["event"] == "booked"] == ["SD000001"]  # the first booking only
    refused = of(events, "command_refused")
    assert refused == [
        (london(at), "command_refused", (TM,), (), "Not done: MOVED for strategy discussion N146782 (SD000001)")
        for at in ("2026-11-25 10:30", "2026-11-25 10:40")
    ]


def test_moved_invites_the_receiving_authority_and_keeps_the_held_discussions_minutes_chase(tmp_path: Path) -> None:
    replies = [("2026-11-25 10:20", "HELD"), ("2026-11-25 11:00", f"MOVED {RECEIVING}")]
    events = run(tmp_path, replies, "2026-11-30 12:00")
    assert [e["start"] for e in events if e["event"] == "booked"] == [
        "2026-11-25T10:00:00+00:00",
        "2026-11-27T10:00:00+00:00",  # within 72 hours of the reply
    ]
    everyone = (HEALTH, SCHOOL, RECEIVING)
    new_discussion = of(events, "confirmation", "reminder_day_before", "reminder_30_min", "timescale_at_risk")
    assert [e for e in new_discussion if e[0] >= london("2026-11-25 11:00")] == [
        (
            london("2026-11-25 11:00"),
            "confirmation",
            (TM,),
            everyone,
            "Strategy discussion booked: N146782 on Fri 27 Nov at 10:00",
        ),
        (
            london("2026-11-26 16:00"),
            "reminder_day_before",
            (TM,),
            everyone,
            "Reminder: strategy discussion N146782 on Fri 27 Nov at 10:00",
        ),
        (
            london("2026-11-27 09:30"),
            "reminder_30_min",
            (TM,),
            everyone,
            "In 30 minutes: strategy discussion N146782 at 10:00",
        ),
    ]
    # The held discussion's minutes chase goes on at its own times, naming its own day.
    assert of(events, "minutes_reminder", "minutes_overdue") == [
        (
            london("2026-11-25 16:15"),
            "minutes_reminder",
            (TM,),
            (),
            "Minutes due by Thu 26 Nov 10:15: strategy discussion N146782",
        ),
        (
            london("2026-11-26 10:15"),
            "minutes_overdue",
            (TM,),
            (UNIT,),
            "Minutes overdue: strategy discussion N146782 of Wed 25 Nov",
        ),
        (
            london("2026-11-27 16:15"),
            "minutes_reminder",
            (TM,),
            (),
            "Minutes due by Mon 30 Nov 10:15: strategy discussion N146782",
        ),
        (
            london("2026-11-30 10:15"),
            "minutes_overdue",
            (TM,),
            (UNIT,),
            "Minutes overdue: strategy discussion N146782 of Fri 27 Nov",
        ),
    ]


def test_moved_after_an_outcome_keeps_the_outcome_timers(tmp_path: Path) -> None:
    replies = [
        ("2026-11-25 10:20", "HELD"),
        ("2026-11-25 10:30", "OUTCOME joint S47"),
        ("2026-11-25 11:00", f"MOVED {RECEIVING}"),
    ]
    with_move = of(run(tmp_path / "moved", replies, "2026-12-17 12:00"), "s47_outcome_due", "icpc_due")
    without = of(run(tmp_path / "stayed", replies[:2], "2026-12-17 12:00"), "s47_outcome_due", "icpc_due")
    assert with_move == without and [p for _, p, *_ in with_move] == ["s47_outcome_due", "icpc_due", "icpc_due"]


def test_a_review_date_already_passed_is_refused_saying_so(tmp_path: Path) -> None:
    events = run(tmp_path, [("2026-11-25 11:00", "REVIEW 14/11/2026")], "2026-12-31 12:00")
    assert of(events, "review_reminder") == []
    assert of(events, "command_refused") == [
        (
            london("2026-11-25 11:00"),
            "command_refused",
            (TM,),
            (),
            "Not done: REVIEW for strategy discussion N146782 (SD000001)",
        )
    ]
