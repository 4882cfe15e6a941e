"""The urgent ladder on the simulated clock (domain.md §4.3, issue 12 §2 and §9): what each person
receives, and the minute it goes, for a case nobody rings, one police ring in time, and cases
opened on a Friday evening and across both clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.replays import Sent, replay, sent
from tests.support.requests_mail import LONDON, london, reply_email, request_email

TM = "alex.morgan@council.example"
DUTY_DS = "duty.ds@police.example"
UNIT = "referrals@police.example"
ADMIN = "admin.support@police.example"
MASH = "mash.manager@council.example"
LADDER = ("escalation_60", "escalation_90", "escalation_120", "escalation_repeat")


def urgent(t0: datetime) -> bytes:
    return request_email(
        t0, subject="URGENT S47 ENQUIRY N311907", n_number="N311907", message_id="<urgent@council.example>"
    )


def reply(at: datetime, to_message: str, first_line: str, sender: str) -> bytes:
    return reply_email(at, to_message, first_line, sender, "URGENT S47 ENQUIRY N311907")


def ladder_of(emails: list[Sent]) -> list[Sent]:
    return [e for e in emails if e.purpose in LADDER]


def minutes_after(t0: datetime, emails: list[Sent]) -> list[int]:
    """When each email went, in real minutes after t0 (subtracted in UTC, whatever the wall clock did)."""
    return [(e.at.astimezone(UTC) - t0.astimezone(UTC)) // timedelta(minutes=1) for e in emails]


def wall_clock(emails: list[Sent]) -> list[str]:
    return [e.at.astimezone(LONDON).strftime("%a %d %b %H:%M %Z") for e in emails]


def test_nobody_rings_the_whole_ladder_goes_then_stops_after_six_repeats(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:02")  # a Monday afternoon
    events = replay(tmp_path / "mail", [(t0, urgent(t0))], until=t0 + timedelta(days=2))
    case = [e for e in sent(events, LONDON) if e.case == "SD000001" and e.purpose != "daily_agenda"]
    mash_cc = (ADMIN, UNIT, TM)
    repeat = "URGENT S47 ENQUIRY N311907: still no police call-back after {} minutes (reminder {} of 6)"
    assert [(e.at, e.purpose, e.to, e.cc, e.subject) for e in case] == [
        (
            t0,
            "urgent_acknowledgement",
            (TM,),
            (),
            "URGENT S47 ENQUIRY N311907 received: police will call by 15:02",
        ),
        (t0, "duty_referral", (DUTY_DS,), (UNIT,), "URGENT S47 ENQUIRY N311907: call the TM/PM by 15:02"),
        (
            london("2026-11-23 15:02"),
            "escalation_60",
            (TM,),
            (DUTY_DS, UNIT),
            "URGENT S47 ENQUIRY N311907: no police call-back recorded after 60 minutes",
        ),
        (
            london("2026-11-23 15:32"),
            "escalation_90",
            (ADMIN,),
            (TM,),
            "URGENT S47 ENQUIRY N311907: please escalate to MASH, no police call-back after 90 minutes",
        ),
        (
            london("2026-11-23 16:02"),
            "escalation_120",
            (MASH,),
            mash_cc,
            "URGENT S47 ENQUIRY N311907: no police call-back after 120 minutes, to the MASH Service Manager",
        ),
        (london("2026-11-23 17:02"), "escalation_repeat", (MASH,), mash_cc, repeat.format(180, 1)),
        (london("2026-11-23 18:02"), "escalation_repeat", (MASH,), mash_cc, repeat.format(240, 2)),
        (london("2026-11-23 19:02"), "escalation_repeat", (MASH,), mash_cc, repeat.format(300, 3)),
        (london("2026-11-23 20:02"), "escalation_repeat", (MASH,), mash_cc, repeat.format(360, 4)),
        (london("2026-11-23 21:02"), "escalation_repeat", (MASH,), mash_cc, repeat.format(420, 5)),
        (london("2026-11-23 22:02"), "escalation_repeat", (MASH,), mash_cc, repeat.format(480, 6)),
    ]


def test_contacted_at_130_minutes_stops_every_repeat(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:02")
    # Admin Support reply CONTACTED to the 120-minute email, as it tells them to.
    contacted = reply(
        t0 + timedelta(minutes=130),
        "SD000001.escalation_120.1",
        "CONTACTED",
        "Admin Support <admin.support@police.example>",
    )
    events = replay(
        tmp_path / "mail", [(t0, urgent(t0)), (t0 + timedelta(minutes=130), contacted)], until=t0 + timedelta(days=2)
    )
    assert [e["kind"] for e in events if e["event"] == "received"] == ["urgent", "reply"]
    ladder = ladder_of(sent(events, LONDON))
    assert [(e.purpose, e.at) for e in ladder] == [
        ("escalation_60", london("2026-11-23 15:02")),
        ("escalation_90", london("2026-11-23 15:32")),
        ("escalation_120", london("2026-11-23 16:02")),
    ]


def test_cancel_stops_the_repeats_too(tmp_path: Path) -> None:
    t0 = london("2026-11-23 14:02")
    cancel = reply(t0 + timedelta(minutes=200), "SD000001.urgent_acknowledgement.1", "CANCEL", f"Alex Morgan <{TM}>")
    events = replay(
        tmp_path / "mail", [(t0, urgent(t0)), (t0 + timedelta(minutes=200), cancel)], until=t0 + timedelta(days=2)
    )
    ladder = ladder_of(sent(events, LONDON))
    assert minutes_after(t0, ladder) == [60, 90, 120, 180]


def test_a_friday_evening_case_escalates_through_the_night_without_waiting_for_monday(tmp_path: Path) -> None:
    t0 = london("2026-11-27 19:40")  # Friday 27 November 2026
    events = replay(tmp_path / "mail", [(t0, urgent(t0))], until=london("2026-11-30 12:00"))
    ladder = ladder_of(sent(events, LONDON))
    assert wall_clock(ladder) == [
        "Fri 27 Nov 20:40 GMT",
        "Fri 27 Nov 21:10 GMT",
        "Fri 27 Nov 21:40 GMT",
        "Fri 27 Nov 22:40 GMT",
        "Fri 27 Nov 23:40 GMT",
        "Sat 28 Nov 00:40 GMT",
        "Sat 28 Nov 01:40 GMT",
        "Sat 28 Nov 02:40 GMT",
        "Sat 28 Nov 03:40 GMT",
    ]
    assert [e.to for e in ladder[2:]] == [(MASH,)] * 7


@pytest.mark.parametrize(
    ("t0", "expected"),
    [
        # Clocks go forward at 01:00 GMT on Sun 29 Mar 2026: 01:00–02:00 never happens, and the
        # 60-minute email goes an hour after 00:30 GMT, at 02:30 BST.
        (
            london("2026-03-29 00:30"),
            [
                "Sun 29 Mar 02:30 BST",
                "Sun 29 Mar 03:00 BST",
                "Sun 29 Mar 03:30 BST",
                "Sun 29 Mar 04:30 BST",
                "Sun 29 Mar 05:30 BST",
                "Sun 29 Mar 06:30 BST",
                "Sun 29 Mar 07:30 BST",
                "Sun 29 Mar 08:30 BST",
                "Sun 29 Mar 09:30 BST",
            ],
        ),
        # Clocks go back at 02:00 BST on Sun 25 Oct 2026: 01:00–02:00 happens twice, and the
        # 90-minute email goes at the second 01:00, an hour of wall clock after the 60-minute one at 01:30 BST.
        (
            london("2026-10-25 00:30"),
            [
                "Sun 25 Oct 01:30 BST",
                "Sun 25 Oct 01:00 GMT",
                "Sun 25 Oct 01:30 GMT",
                "Sun 25 Oct 02:30 GMT",
                "Sun 25 Oct 03:30 GMT",
                "Sun 25 Oct 04:30 GMT",
                "Sun 25 Oct 05:30 GMT",
                "Sun 25 Oct 06:30 GMT",
                "Sun 25 Oct 07:30 GMT",
            ],
        ),
    ],
)
def test_across_a_clock_change_the_ladder_counts_elapsed_minutes(
    tmp_path: Path, t0: datetime, expected: list[str]
) -> None:
    events = replay(tmp_path / "mail", [(t0, urgent(t0))], until=t0 + timedelta(days=1))
    ladder = ladder_of(sent(events, LONDON))
    assert wall_clock(ladder) == expected
    assert minutes_after(t0, ladder) == [60, 90, 120, 180, 240, 300, 360, 420, 480]
    # What each email says has passed is the real time, not the wall clock's difference.
    assert [e.subject.split("after ")[1].split(" minutes")[0] for e in ladder] == [
        "60",
        "90",
        "120",
        "180",
        "240",
        "300",
        "360",
        "420",
        "480",
    ]
