"""The urgent meeting on the simulated clock (domain.md §4.4–4.6, §5): CONTACTED <time>, the calendar,
the invitation, the minutes pack at the meeting, the held chase, and timescales from the meeting."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.replays import Sent, replay, sent
from tests.support.requests_mail import london, reply_email, request_email

LONDON = ZoneInfo("Europe/London")
TM = "alex.morgan@council.example"
DS = "duty.ds@police.example"
UNIT = "referrals@police.example"
HEALTH = "health.safeguarding@nhs.example"
SCHOOL = "dsl@school.council.example"
MINE = {"urgent_meeting", "minutes_template", "held_chase", "minutes_reminder", "minutes_overdue", "s47_outcome_due"}


def urgent(at: datetime, n: str = "N222222") -> tuple[datetime, bytes]:
    return at, request_email(at, subject=f"URGENT S47 ENQUIRY {n}", n_number=n, message_id=f"<u.{n}@council.example>")


def from_ds(at: datetime, first_line: str) -> tuple[datetime, bytes]:
    """The duty DS replies to the referral the bot sent them."""
    ds = "DS Sam Carver <sam.carver@police.example>"
    return at, reply_email(at, "SD000001.duty_referral.1", first_line, ds, "URGENT S47 ENQUIRY N222222")


def mine(events: list[dict[str, object]]) -> list[Sent]:
    return [s for s in sent(events, LONDON) if s.purpose in MINE]


def test_contacted_with_a_time_books_the_urgent_meeting_and_invites_health(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:00")  # a Monday
    events = replay(
        tmp_path, [urgent(t0), from_ds(t0 + timedelta(minutes=30), "CONTACTED 16:00")], london("2026-11-24 12:00")
    )
    [booked] = [e for e in events if e["event"] == "booked"]
    assert booked["subject"] == "Urgent strategy meeting N222222" and booked["n_numbers"] == ["N222222"]
    assert (booked["start"], booked["end"]) == ("2026-11-23T16:00:00+00:00", "2026-11-23T16:30:00+00:00")
    emails = sent(events, LONDON)
    assert not [s for s in emails if s.purpose.startswith("escalation")]  # police rang within the hour
    assert [(s.at, s.purpose, s.to, s.cc) for s in mine(events)] == [
        (london("2026-11-23 14:30"), "urgent_meeting", (TM,), (DS, HEALTH, SCHOOL)),
        (london("2026-11-23 16:00"), "minutes_template", (TM, DS), ()),
        (london("2026-11-23 18:00"), "held_chase", (TM, DS), ()),
        (london("2026-11-24 09:00"), "held_chase", (TM, DS), (UNIT,)),
    ]
    invitation = next(s for s in emails if s.purpose == "urgent_meeting")
    assert invitation.subject == "Urgent strategy meeting N222222 today at 16:00"
    chase = next(s for s in emails if s.purpose == "held_chase")
    assert "N222222" in chase.subject and "HELD" in chase.subject


def test_the_meeting_time_written_other_ways_and_a_time_already_passed_is_tomorrow(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:00")
    for n, (line, start) in enumerate(
        [
            ("Contacted 4pm", "2026-11-23T16:00:00+00:00"),
            ("CONTACTED meeting at 16:30", "2026-11-23T16:30:00+00:00"),
            ("CONTACTED 9:00", "2026-11-24T09:00:00+00:00"),  # 09:00 has passed: tomorrow
        ]
    ):
        events = replay(
            tmp_path / str(n), [urgent(t0), from_ds(t0 + timedelta(minutes=20), line)], t0 + timedelta(hours=1)
        )
        assert [e["start"] for e in events if e["event"] == "booked"] == [start], line


def test_held_stops_the_chase_and_the_minutes_and_s47_count_from_the_meeting(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:00")
    messages = [
        urgent(t0),
        from_ds(t0 + timedelta(minutes=30), "CONTACTED 16:00"),
        from_ds(london("2026-11-23 17:00"), "HELD"),
        from_ds(london("2026-11-26 11:00"), "OUTCOME joint S47"),  # three days later
    ]
    events = replay(tmp_path, messages, london("2026-11-30 12:00"))
    assert [(s.at, s.purpose, s.to, s.cc) for s in mine(events)] == [
        (london("2026-11-23 14:30"), "urgent_meeting", (TM,), (DS, HEALTH, SCHOOL)),
        (london("2026-11-23 16:00"), "minutes_template", (TM, DS), ()),
        # Minutes due one working day after HELD was recorded; reminder four working hours before.
        (london("2026-11-24 13:00"), "minutes_reminder", (TM,), ()),
        (london("2026-11-24 17:00"), "minutes_overdue", (TM,), (UNIT,)),
        # Working day 3 from the meeting (Mon 23), not from the OUTCOME reply (Thu 26).
        (london("2026-11-26 09:00"), "s47_outcome_due", (TM,), ()),
    ]


def test_contacted_without_a_time_sends_the_pack_at_once_and_chases_at_six(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:00")
    events = replay(
        tmp_path, [urgent(t0), from_ds(t0 + timedelta(minutes=30), "CONTACTED")], london("2026-11-24 12:00")
    )
    assert not [e for e in events if e["event"] == "booked"]
    assert [(s.at, s.purpose, s.to, s.cc) for s in mine(events)] == [
        (london("2026-11-23 14:30"), "minutes_template", (TM, DS), ()),
        (london("2026-11-23 18:00"), "held_chase", (TM, DS), ()),
        (london("2026-11-24 09:00"), "held_chase", (TM, DS), (UNIT,)),
    ]


def test_a_friday_evening_case_meets_on_saturday_and_is_chased_on_monday(tmp_path: Path) -> None:
    t0 = london("2026-11-27 19:40")  # a Friday evening
    events = replay(
        tmp_path, [urgent(t0), from_ds(london("2026-11-27 20:15"), "CONTACTED 9am")], london("2026-11-30 12:00")
    )
    assert [e["start"] for e in events if e["event"] == "booked"] == ["2026-11-28T09:00:00+00:00"]
    assert [(s.at, s.purpose) for s in mine(events)] == [
        (london("2026-11-27 20:15"), "urgent_meeting"),
        (london("2026-11-28 09:00"), "minutes_template"),
        (london("2026-11-28 11:00"), "held_chase"),
        (london("2026-11-30 09:00"), "held_chase"),  # the next working day
    ]


def test_the_meeting_keeps_its_wall_clock_time_across_both_clock_changes(tmp_path: Path) -> None:
    # Clocks go back at 02:00 on Sun 25 Oct 2026 and forward at 01:00 on Sun 29 Mar 2026.
    for name, t0, contact, start, chase in [
        (
            "autumn",
            london("2026-10-25 00:30"),
            london("2026-10-25 01:10"),
            "2026-10-25 10:00",
            "2026-10-25 12:00",
        ),
        (
            "spring",
            london("2026-03-29 00:30"),
            london("2026-03-29 00:50"),
            "2026-03-29 10:00",
            "2026-03-29 12:00",
        ),
    ]:
        events = replay(tmp_path / name, [urgent(t0), from_ds(contact, "CONTACTED 10:00")], t0 + timedelta(hours=14))
        starts = [datetime.fromisoformat(str(e["start"])) for e in events if e["event"] == "booked"]
        assert starts == [london(start)], name  # 10:00 on the wall clock, whatever the offset
        chases = [s.at for s in mine(events) if s.purpose == "held_chase"]
        assert chases == [london(chase)], name


def test_a_meeting_over_a_rota_booking_goes_in_and_moves_nothing(tmp_path: Path) -> None:
    booked_at = london("2026-11-23 09:00")
    standard = request_email(booked_at, message_id="<std@council.example>")  # booked Wed 25 Nov 10:00
    t0 = london("2026-11-25 09:10")
    events = replay(
        tmp_path,
        [(booked_at, standard), urgent(t0), from_ds(t0 + timedelta(minutes=20), "CONTACTED 10:00")],
        london("2026-11-25 11:00"),
    )
    starts = [(e["subject"], e["start"]) for e in events if e["event"] == "booked"]
    assert starts == [
        ("Strategy discussion N146782", "2026-11-25T10:00:00+00:00"),
        ("Urgent strategy meeting N222222", "2026-11-25T10:00:00+00:00"),
    ]
    assert not [e for e in events if e["event"] in ("moved", "cancelled")]


def test_a_meeting_after_emergency_action_with_no_rota_slot_is_chased_and_its_minutes_too(tmp_path: Path) -> None:
    received = london("2026-11-25 17:00")  # a Wednesday: no rota day by Thursday
    body = (
        "N number: N146782\nChildren's surname: Bond\nRequesting manager: Alex Morgan\nRole: Team Manager\n"
        "Contact number: 01632 960123\nReason for strategy discussion: police protection taken.\n"
        f"Health representative: {HEALTH}\nEmergency action taken: EPO, 25/11/2026 15:30\n"
    )
    request = request_email(received, message_id="<epo@council.example>", body=body)
    ds = "DS Sam Carver <sam.carver@police.example>"
    replies = [
        (at, reply_email(at, to, line, ds, "Strategy discussion N146782"))
        for at, line, to in [
            (london("2026-11-25 17:30"), "CONTACTED 11:00", "SD000001.emergency_action_notice.1"),
            (london("2026-11-26 11:40"), "HELD", "SD000001.urgent_meeting.1"),
        ]
    ]
    events = replay(tmp_path, [(received, request), *replies], london("2026-11-28 12:00"))
    starts = [(e["subject"], datetime.fromisoformat(str(e["start"]))) for e in events if e["event"] == "booked"]
    assert starts == [("Urgent strategy meeting N146782", london("2026-11-26 11:00"))]
    assert [(s.at, s.purpose, s.to) for s in mine(events)] == [
        (london("2026-11-25 17:30"), "urgent_meeting", (TM,)),
        (london("2026-11-26 11:00"), "minutes_template", (TM, DS)),
        # HELD recorded at 11:40: minutes due one working day later, reminder four working hours before.
        (london("2026-11-26 17:40"), "minutes_reminder", (TM,)),
        (london("2026-11-27 11:40"), "minutes_overdue", (TM,)),
    ]
