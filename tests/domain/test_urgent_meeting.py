"""The urgent meeting's rules (domain.md §4.4–4.6) without I/O: the time read, the day chosen, the chase."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.cases import CommandGiven, decide
from bot.domain.commands import Command, meeting_time, read_command
from bot.domain.decisions import CaseTimer, CaseView, TimersToCancel, UrgentMeeting
from bot.domain.model import Booking, Case, CaseState, Kind, RequestDetails, Requester
from bot.domain.purposes import LADDER, Purpose
from bot.domain.urgent_meeting import HELD_CHASE, MeetingBooked, held_chase_timers, meeting_start
from tests.domain.test_cases import POLICY

LONDON = ZoneInfo("Europe/London")
TM = "alex.morgan@council.example"
DETAILS = RequestDetails(("N222222",), requester=Requester("Alex Morgan", "Team Manager", "01632 960123", TM))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("16:00", time(16, 0)),
        ("16.00", time(16, 0)),
        ("4pm", time(16, 0)),
        ("4.30 pm", time(16, 30)),
        ("meeting at 16:00", time(16, 0)),
        ("urgent strategy meeting at 9am tomorrow", time(9, 0)),
        ("at 1600", time(16, 0)),
        ("", None),
        ("- spoke to the TM at 14:25", None),  # when they spoke, not a meeting
        ("2", None),  # a bare number could be anything
        ("25:00", None),
        ("13pm", None),
    ],
)
def test_the_meeting_time_is_read_only_right_after_the_word(rest: str, expected: time | None) -> None:
    assert meeting_time(rest) == expected
    assert read_command(f"CONTACTED {rest}\n\nthanks") == Command("CONTACTED", meeting_time=expected)


@pytest.mark.parametrize(
    ("now", "agreed", "start"),
    [
        ("2026-11-23 14:30", time(16, 0), "2026-11-23 16:00"),
        ("2026-11-23 14:30", time(9, 0), "2026-11-24 09:00"),  # passed: tomorrow
        ("2026-11-23 16:00", time(16, 0), "2026-11-24 16:00"),  # now is not in the future
        ("2026-10-25 00:30", time(10, 0), "2026-10-25 10:00"),  # clocks go back at 02:00
        ("2026-03-29 00:30", time(10, 0), "2026-03-29 10:00"),  # clocks go forward at 01:00
    ],
)
def test_the_meeting_is_today_or_tomorrow_at_its_wall_clock_time(now: str, agreed: time, start: str) -> None:
    assert meeting_start(agreed, at(now), POLICY) == at(start)


@pytest.mark.parametrize(
    ("anchor", "agreed", "chases"),
    [
        ("2026-11-23 16:00", True, ["2026-11-23 18:00", "2026-11-24 09:00"]),
        ("2026-11-23 14:30", False, ["2026-11-23 18:00", "2026-11-24 09:00"]),
        ("2026-11-23 19:00", False, ["2026-11-24 09:00"]),  # contacted after 18:00: the morning only
        ("2026-11-27 20:00", True, ["2026-11-27 22:00", "2026-11-30 09:00"]),  # Friday: Monday next
        ("2026-12-24 15:00", True, ["2026-12-24 17:00", "2026-12-29 09:00"]),  # Christmas and Boxing Day
    ],
)
def test_the_held_chase_times(anchor: str, agreed: bool, chases: list[str]) -> None:
    timers = held_chase_timers(at(anchor), agreed, POLICY, "s")
    assert [t.due for t in timers] == [at(c) for c in chases]
    assert [t.detail for t in timers][-1] == "2"


def _view(state: CaseState, booking: Booking | None = None) -> CaseView:
    return CaseView(
        Case("SD000001", Kind.URGENT, state, DETAILS, "<r@council.example>", at("2026-11-23 14:00")), booking
    )


def test_contacted_with_a_time_stops_the_ladder_and_asks_for_the_meeting() -> None:
    decision = decide(
        _view(CaseState.AWAITING_CONTACT),
        CommandGiven(Command("CONTACTED", meeting_time=time(16)), "ds@police.example"),
        at("2026-11-23 14:30"),
        POLICY,
    )
    assert decision.state is CaseState.CONTACTED
    assert decision.change == UrgentMeeting(at("2026-11-23 16:00"))
    assert TimersToCancel(LADDER) in decision.cancel_timers
    assert decision.emails == ()  # the invitation goes once the meeting is in the calendar


def test_a_time_given_after_contact_records_the_meeting_and_a_second_one_does_not_apply() -> None:
    command = CommandGiven(Command("CONTACTED", meeting_time=time(16)), "ds@police.example")
    later = decide(_view(CaseState.CONTACTED), command, at("2026-11-23 14:30"), POLICY)
    assert later.applies and later.change == UrgentMeeting(at("2026-11-23 16:00"))
    meeting = Booking("SD000001", "u", at("2026-11-23 16:00"), at("2026-11-23 16:30"))
    assert not decide(_view(CaseState.CONTACTED, meeting), command, at("2026-11-23 14:40"), POLICY).applies


def test_the_booked_meeting_invites_and_sets_the_pack_and_the_chase() -> None:
    meeting = Booking("SD000001", "u", at("2026-11-23 16:00"), at("2026-11-23 16:30"))
    decision = decide(_view(CaseState.CONTACTED, meeting), MeetingBooked(meeting), at("2026-11-23 14:30"), POLICY)
    assert [m.purpose for m in decision.emails] == [Purpose.URGENT_MEETING]
    assert [(t.purpose, t.due) for t in decision.set_timers] == [
        (Purpose.MINUTES_TEMPLATE, at("2026-11-23 16:00")),
        (Purpose.HELD_CHASE, at("2026-11-23 18:00")),
        (Purpose.HELD_CHASE, at("2026-11-24 09:00")),
    ]
    assert decision.history[0].detail == "Mon 23 Nov 2026 16:00 Urgent strategy meeting N222222"


def test_held_stops_the_chase() -> None:
    decision = decide(_view(CaseState.CONTACTED), CommandGiven(Command("HELD"), TM), at("2026-11-23 17:00"), POLICY)
    assert TimersToCancel(HELD_CHASE) in decision.cancel_timers
    chase = CaseTimer(Purpose.HELD_CHASE, at("2026-11-23 18:00"), "s", "1")
    assert not decide(_view(CaseState.HELD), chase, at("2026-11-23 18:00"), POLICY).needed
    assert decide(_view(CaseState.CONTACTED), chase, at("2026-11-23 18:00") + timedelta(0), POLICY).needed
