"""domain.md §1, §3 and §4.1 as tables: working days, slots, the timescale check, the urgent clock, subjects."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.domain.classify import auto_generated_reason, classify, sender_address, subject_kind, topmost_received_time
from bot.domain.dmarc import dmarc_passes
from bot.domain.model import Interval, Kind
from bot.domain.slots import (
    choose_slot,
    effective_referral_day,
    first_free_start,
    target_meeting_day,
)
from bot.domain.urgent_clock import callback_due, clock_start
from bot.domain.working_days import WorkingDays

LONDON = ZoneInfo("Europe/London")
SCHEDULE = load_config(None).schedule
DAYS = WorkingDays.from_schedule(SCHEDULE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def no_bookings(_day: date) -> list[Interval]:
    return []


# -- working days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-11-23", True),  # Monday
        ("2026-11-28", False),  # Saturday
        ("2026-12-25", False),  # Christmas Day, a Friday
        ("2026-12-28", False),  # Boxing Day substitute: the 26th is a Saturday
        ("2026-12-29", True),
        ("2027-03-26", False),  # Good Friday
        ("2027-03-29", False),  # Easter Monday
        ("2027-05-03", False),  # Early May bank holiday
        ("2027-08-30", False),  # Summer bank holiday (England, not Scotland's)
        ("2027-08-02", True),  # Scotland's summer holiday is not England's
    ],
)
def test_working_days_follow_england_and_wales_bank_holidays(day: str, working: bool) -> None:
    assert DAYS.is_working_day(date.fromisoformat(day)) is working


def test_a_closure_day_is_not_a_working_day() -> None:
    closed = WorkingDays(frozenset({date(2026, 12, 24)}))
    assert not closed.is_working_day(date(2026, 12, 24))
    assert closed.next_working_day(date(2026, 12, 23)) == date(2026, 12, 29)
    assert closed.add_working_days(date(2026, 12, 23), 2) == date(2026, 12, 30)
    assert closed.working_days_after(date(2026, 12, 23), date(2026, 12, 31)) == 3


# -- slots: every worked example of domain.md §3 -------------------------------------------------------

WORKED = [
    ("2026-11-23 09:00:00", "2026-11-23", "2026-11-25 10:00"),
    ("2026-11-24 16:00:00", "2026-11-24", "2026-11-25 10:00"),
    ("2026-11-24 16:00:01", "2026-11-25", "2026-11-27 10:00"),
    ("2026-11-27 15:00:00", "2026-11-27", "2026-11-30 10:00"),
    ("2026-11-28 11:00:00", "2026-11-30", "2026-12-02 10:00"),
    ("2026-12-24 10:00:00", "2026-12-24", "2026-12-30 10:00"),
]


@pytest.mark.parametrize(("received", "effective", "slot"), WORKED)
def test_worked_examples(received: str, effective: str, slot: str) -> None:
    choice = choose_slot(at(received), False, no_bookings, SCHEDULE, DAYS, LONDON)
    assert choice is not None
    assert choice.effective_day == date.fromisoformat(effective)
    assert choice.start == at(slot) and choice.end == at(slot) + timedelta(minutes=15)
    assert choice.within_timescale


@pytest.mark.parametrize(
    ("effective", "target"),
    [
        ("2026-11-23", "2026-11-25"),  # Monday → Wednesday
        ("2026-11-24", "2026-11-25"),  # Tuesday → Wednesday
        ("2026-11-25", "2026-11-27"),  # Wednesday → Friday
        ("2026-11-26", "2026-11-27"),  # Thursday → Friday
        ("2026-11-27", "2026-11-30"),  # Friday → the following Monday
        ("2027-03-25", "2027-03-31"),  # Thursday → Good Friday and Easter Monday skipped → Wednesday
    ],
)
def test_target_meeting_day(effective: str, target: str) -> None:
    assert target_meeting_day(date.fromisoformat(effective), SCHEDULE, DAYS) == date.fromisoformat(target)


def test_the_cut_off_counts_in_london_time_not_utc() -> None:
    # 15:30 UTC on a summer day is 16:30 in London: after the cut-off.
    summer = datetime(2027, 6, 8, 15, 30, tzinfo=UTC)
    assert effective_referral_day(summer, SCHEDULE, DAYS, LONDON) == date(2027, 6, 9)
    winter = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    assert effective_referral_day(winter, SCHEDULE, DAYS, LONDON) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("received", "slot_utc"),
    [
        # Autumn: clocks go back on Sunday 25 October 2026; Monday 10:00 is 10:00 GMT.
        ("2026-10-23 12:00", datetime(2026, 10, 26, 10, 0, tzinfo=UTC)),
        # Spring: clocks go forward on Sunday 28 March 2027; Wednesday 10:00 is 09:00 UTC.
        ("2027-03-25 12:00", datetime(2027, 3, 31, 9, 0, tzinfo=UTC)),
        # The Friday before the change in spring: Monday 22 March is still GMT.
        ("2027-03-19 12:00", datetime(2027, 3, 22, 10, 0, tzinfo=UTC)),
    ],
)
def test_ten_o_clock_stays_ten_o_clock_across_both_clock_changes(received: str, slot_utc: datetime) -> None:
    choice = choose_slot(at(received), False, no_bookings, SCHEDULE, DAYS, LONDON)
    assert choice is not None
    assert choice.start == slot_utc
    assert choice.start.astimezone(LONDON).hour == 10


def test_a_full_day_overflows_to_the_next_meeting_day() -> None:
    wednesday = [
        Interval(at(f"2026-11-25 {h}"), at(f"2026-11-25 {h}") + timedelta(minutes=15))
        for h in ("10:00", "10:15", "10:30", "10:45", "11:00", "11:15")
    ]

    def busy(day: date) -> list[Interval]:
        return wednesday if day == date(2026, 11, 25) else []

    choice = choose_slot(at("2026-11-23 09:00"), False, busy, SCHEDULE, DAYS, LONDON)
    assert choice is not None and choice.start == at("2026-11-27 10:00")
    # Three working days from Monday is Thursday: Friday is booked, and flagged.
    assert choice.deadline == date(2026, 11, 26) and not choice.within_timescale


def test_complex_slots_fit_around_bookings_made_by_hand() -> None:
    hand = [Interval(at("2026-11-25 10:20"), at("2026-11-25 10:35"))]
    assert first_free_start(date(2026, 11, 25), 15, hand, SCHEDULE, LONDON) == at("2026-11-25 10:00")
    # 30 minutes: 10:00 would run into 10:20, 10:15 and 10:30 overlap, 10:45 fits.
    assert first_free_start(date(2026, 11, 25), 30, hand, SCHEDULE, LONDON) == at("2026-11-25 10:45")
    late = [Interval(at("2026-11-25 10:00"), at("2026-11-25 11:10"))]
    # Only 11:15-11:30 is left: a complex case does not fit before 11:30.
    assert first_free_start(date(2026, 11, 25), 30, late, SCHEDULE, LONDON) is None
    assert first_free_start(date(2026, 11, 25), 15, late, SCHEDULE, LONDON) == at("2026-11-25 11:15")


def test_the_timescale_check() -> None:
    def busy_until_tuesday(day: date) -> list[Interval]:
        return [Interval(at(f"{day} 10:00"), at(f"{day} 11:30"))] if day < date(2026, 12, 1) else []

    standard = choose_slot(at("2026-11-23 09:00"), False, busy_until_tuesday, SCHEDULE, DAYS, LONDON)
    assert standard is not None and standard.start == at("2026-12-02 10:00")
    assert standard.deadline == date(2026, 11, 26) and not standard.within_timescale
    complex_case = choose_slot(at("2026-11-23 09:00"), True, busy_until_tuesday, SCHEDULE, DAYS, LONDON)
    assert complex_case is not None and complex_case.end - complex_case.start == timedelta(minutes=30)
    assert complex_case.deadline == date(2026, 11, 30) and not complex_case.within_timescale


def test_past_the_horizon_the_case_goes_to_a_person() -> None:
    def always_full(day: date) -> list[Interval]:
        return [Interval(at(f"{day} 09:00"), at(f"{day} 12:00"))]

    assert choose_slot(at("2026-11-23 09:00"), False, always_full, SCHEDULE, DAYS, LONDON) is None


# -- the urgent clock (§4.1) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_header", "received", "expected"),
    [
        ("2026-11-23 14:02", "2026-11-23 14:20", "2026-11-23 14:02"),  # mail took 18 minutes
        ("2026-11-23 14:30", "2026-11-23 14:20", "2026-11-23 14:20"),  # a sender's clock ahead
        ("2026-11-21 09:00", "2026-11-23 14:20", "2026-11-23 14:20"),  # more than 24 hours old
        (None, "2026-11-23 14:20", "2026-11-23 14:20"),
    ],
)
def test_clock_start(date_header: str | None, received: str, expected: str) -> None:
    header = at(date_header) if date_header else None
    t0 = clock_start(header, at(received), 24)
    assert t0 == at(expected) and t0.tzinfo is UTC
    assert callback_due(t0, 60) == at(expected) + timedelta(hours=1)


# -- classification (§1) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("URGENT S47 ENQUIRY N146782", Kind.URGENT),
        ("urgent  s47   enquiry", Kind.URGENT),
        ("Urgent S.47 Enquiry - N146782", Kind.URGENT),
        ("URGENT S 47 ENQUIRY", Kind.URGENT),
        ("URGENT Section 47 enquiry", Kind.URGENT),
        ("URGENT S47 ENQUIRY: strategy discussion needed", Kind.URGENT),
        ("Strategy discussion N146782", Kind.STANDARD),
        ("strategy   DISCUSSION", Kind.STANDARD),
        ("Request for a strategy meeting", Kind.STANDARD),
        ("Urgent: strategy discussion", Kind.STANDARD),
        ("S47 enquiry", Kind.UNRECOGNISED),
        ("Rota for next week", Kind.UNRECOGNISED),
    ],
)
def test_subject_kind(subject: str, kind: Kind) -> None:
    assert subject_kind(subject) is kind


def mail(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Alex Morgan <alex.morgan@council.example>")
    msg["Subject"] = headers.pop("Subject", "Strategy discussion N146782")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("N number: N146782\n")
    return msg


OWN = {"referrals@police.example"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto-submitted"),
        ({"Auto_Submitted": "auto-generated"}, "auto-submitted"),
        ({"Precedence": "bulk"}, "precedence"),
        ({"Precedence": "junk"}, "precedence"),
        ({"List_Id": "<staff.council.example>"}, "mailing list"),
        ({"X_Autoreply": "yes"}, "out-of-office"),
        ({"Subject": "Automatic reply: Strategy discussion N146782"}, "out-of-office"),
        ({"Subject": "Out of Office: Strategy discussion"}, "out-of-office"),
        ({"Return_Path": "<>"}, "empty return path"),
        ({"From": "Referrals <referrals@police.example>"}, "own address"),
        ({"From": "MAILER-DAEMON@council.example"}, "delivery status"),
        ({"X_Loop": "referrals@police.example"}, "x-loop"),
        ({"Subject": "Accepted: Strategy discussion N146782"}, "meeting response"),
        ({"Subject": "Tentative: Strategy discussion N146782"}, "meeting response"),
    ],
)
def test_auto_generated_mail_is_never_acted_on(headers: dict[str, str], reason: str) -> None:
    msg = mail(**headers)
    found = auto_generated_reason(msg, OWN)
    assert found is not None and reason in found
    assert classify(msg, OWN).kind is Kind.AUTO


def test_a_calendar_reply_is_a_meeting_response() -> None:
    msg = mail(Subject="Strategy discussion N146782")
    msg.add_attachment(
        "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n", subtype="calendar", params={"method": "REPLY"}
    )
    assert auto_generated_reason(msg, OWN) == "meeting response"
    assert classify(msg, OWN).kind is Kind.AUTO


def test_auto_submitted_no_and_ordinary_mail_are_a_person_s() -> None:
    assert auto_generated_reason(mail(Auto_Submitted="no"), OWN) is None
    assert classify(mail(), OWN).kind is Kind.STANDARD


def test_replies_are_recognised_by_headers_or_prefix() -> None:
    assert classify(mail(In_Reply_To="<x@police.example>"), OWN).is_reply
    for subject in ("RE: Strategy discussion N146782", "Fwd: URGENT S47 ENQUIRY", "AW: Strategy discussion", "FW: x"):
        assert classify(mail(Subject=subject), OWN).is_reply
    forwarded = classify(mail(Subject="FW: URGENT S47 ENQUIRY N146782"), OWN)
    assert forwarded.kind is Kind.URGENT
    assert not classify(mail(), OWN).is_reply


@pytest.mark.parametrize(
    ("results", "passes"),
    [
        ("mx.police.example; spf=pass; dkim=pass; dmarc=pass header.from=council.example", True),
        ("mx.police.example; dmarc=fail header.from=council.example", False),
        ("mx.attacker.example; dmarc=pass header.from=council.example", False),
        ("mx.police.example; dmarc=none header.from=council.example; compauth=pass reason=109", True),
        ("mx.police.example; dmarc=none header.from=council.example; compauth=pass reason=701", True),
        ("mx.police.example; dmarc=none header.from=evil.example; compauth=pass reason=109", False),
        ("mx.police.example; dmarc=none; compauth=pass reason=000", False),
        ("mx.police.example; compauth=fail reason=001", False),
    ],
)
def test_dmarc_is_read_only_from_the_trusted_server(results: str, passes: bool) -> None:
    assert dmarc_passes(mail(Authentication_Results=results), "mx.police.example") is passes


@pytest.mark.parametrize(
    ("from_header", "expected"),
    [
        ("Alex Morgan <Alex.Morgan@Council.example>", ("Alex Morgan", "alex.morgan@council.example")),
        ("alex.morgan@council.example", (None, "alex.morgan@council.example")),
        ("a@council.example, b@council.example", (None, None)),
        ('"Alex" <alex@council.example>@evil.example', (None, None)),
        ("not an address", (None, None)),
        ("=?utf-8?q?Si=C3=A2n_Jones?= <sian.jones@council.example>", ("Siân Jones", "sian.jones@council.example")),
    ],
)
def test_exactly_one_well_formed_sender(from_header: str, expected: tuple[str | None, str | None]) -> None:
    msg = email.message_from_bytes(f"From: {from_header}\nSubject: x\n\nhello\n".encode(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert sender_address(msg) == expected


def test_topmost_received_header_gives_the_time_of_receipt() -> None:
    msg = mail()
    msg["Received"] = "from b by mx.police.example; Mon, 23 Nov 2026 14:20:00 +0000"
    msg["Received"] = "from a by relay.council.example; Mon, 23 Nov 2026 14:05:00 +0000"
    assert topmost_received_time(msg) == datetime(2026, 11, 23, 14, 20, tzinfo=UTC)
