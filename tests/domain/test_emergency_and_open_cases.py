"""Emergency action's one-working-day timescale and children already known (domain.md §2, §3.4), as tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from bot.cli import parse_summary
from bot.config import load_config
from bot.domain.cases import decide
from bot.domain.decisions import CaseView, Role
from bot.domain.emergency import (
    EPO,
    POLICE_PROTECTION,
    UNNAMED,
    emergency_deadline,
    none_in_time,
    read_emergency_action,
)
from bot.domain.model import Booking, Case, CaseState, EmergencyAction, Interval, Kind, RequestDetails, Requester
from bot.domain.open_cases import OpenCasesFound, UrgentForBookedChild, booked_discussions, known_cases
from bot.domain.purposes import Purpose
from bot.domain.request_reading import read_request
from bot.domain.slots import choose_slot
from bot.domain.working_days import WorkingDays
from bot.service.setup import policy_for

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
DAYS = WorkingDays.from_schedule(CONFIG.schedule)
POLICY = dataclasses.replace(
    policy_for(CONFIG, DAYS),
    recipient_domains=("council.example", "nhs.example", "police.example"),
)
TM = "alex.morgan@council.example"
OTHER_TM = "sam.jones@council.example"
S = CaseState


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def details(*n_numbers: str, requester: str = TM, action: EmergencyAction | None = None) -> RequestDetails:
    return RequestDetails(
        n_numbers=n_numbers,
        surname="Bond",
        requester=Requester("Alex Morgan", "Team Manager", "01632 960001", requester),
        reason="injury",
        emergency_action=action,
    )


def case(
    case_id: str,
    kind: Kind,
    state: CaseState,
    *n_numbers: str,
    requester: str = TM,
    action: EmergencyAction | None = None,
) -> Case:
    return Case(
        case_id, kind, state, details(*n_numbers, requester=requester, action=action), "<r@x>", at("2026-11-23 09:00")
    )


# -- reading the field (§2) ------------------------------------------------------------------------

SENT = date(2026, 12, 1)  # a Tuesday

READING = [
    ("Emergency action taken", "Police protection, 30/11/2026 14:00", POLICE_PROTECTION, date(2026, 11, 30), time(14)),
    ("Emergency action", "EPO granted 30 Nov", EPO, date(2026, 11, 30), None),
    ("EPO", "30/11/26 at 2pm", EPO, date(2026, 11, 30), time(14)),
    ("EPO", "yes", EPO, None, None),
    ("Police protection", "Yes, 29/11 at 22.30", POLICE_PROTECTION, date(2026, 11, 29), time(22, 30)),
    (
        "Emergency action",
        "Police protection taken yesterday evening, 19:45",
        POLICE_PROTECTION,
        date(2026, 11, 30),
        time(19, 45),
    ),
    ("Emergency action", "Emergency protection order, 1st December 2026", EPO, date(2026, 12, 1), None),
    ("Emergency action taken", "Child removed under s46 today at 11:15am", POLICE_PROTECTION, SENT, time(11, 15)),
    ("Emergency action taken", "Removed to hospital on Nov 29", UNNAMED, date(2026, 11, 29), None),
]


@pytest.mark.parametrize(("label", "value", "taken", "day", "clock"), READING)
def test_the_field_says_what_and_when(label: str, value: str, taken: str, day: date | None, clock: time | None) -> None:
    assert read_emergency_action(label, value, SENT) == EmergencyAction(taken, day, clock)


@pytest.mark.parametrize("value", ["No", "none", "N/A", "n/a - none taken", "Not applicable", "", "   "])
def test_no_emergency_action_is_none(value: str) -> None:
    assert read_emergency_action("Emergency action taken", value, SENT) is None


def test_a_date_without_its_year_is_the_latest_one_before_the_request() -> None:
    action = read_emergency_action("EPO", "granted 30 Dec", date(2027, 1, 2))
    assert action == EmergencyAction(EPO, date(2026, 12, 30))


def test_a_date_without_a_year_and_no_date_header_is_left_to_the_received_time() -> None:
    assert read_emergency_action("EPO", "granted 30 Dec", None) == EmergencyAction(EPO)


@pytest.mark.parametrize(
    "line",
    [
        "Emergency action taken: Police protection, 30/11/2026 14:00",
        "Emergency action taken (EPO / police protection) and when: Police protection, 30/11/2026 14:00",
        "Police protection: 30/11/2026 14:00",
        "Emergency action:\nPolice protection, 30/11/2026 14:00",
    ],
)
def test_the_request_template_reads_the_field(line: str) -> None:
    msg = EmailMessage()
    msg["From"] = f"Alex Morgan <{TM}>"
    msg["Subject"] = "Strategy discussion N146782"
    msg["Date"] = format_datetime(at("2026-12-01 09:00"))
    msg.set_content(f"N number: N146782\nChildren's surname: Bond\n{line}\nContact number: 01632 960001\n")
    read = read_request(msg, Kind.STANDARD)
    assert read.emergency_action == EmergencyAction(POLICE_PROTECTION, date(2026, 11, 30), time(14))
    assert read.requester.phone == "01632 960001"


def test_a_request_without_the_field_has_no_emergency_action() -> None:
    msg = EmailMessage()
    msg["From"] = f"Alex Morgan <{TM}>"
    msg["Subject"] = "Strategy discussion N146782"
    msg.set_content("N number: N146782\nChildren's surname: Bond\n")
    assert read_request(msg, Kind.STANDARD).emergency_action is None


def test_a_reply_supplies_the_field_and_the_request_keeps_its_own() -> None:
    own = details("N146782", action=EmergencyAction(EPO, date(2026, 11, 30)))
    reply = details("N146782", action=EmergencyAction(POLICE_PROTECTION))
    assert own.completed_by(reply).emergency_action == EmergencyAction(EPO, date(2026, 11, 30))
    assert details("N146782").completed_by(reply).emergency_action == EmergencyAction(POLICE_PROTECTION)


# -- the deadline: one working day after the action (§3.4) -----------------------------------------

DEADLINES = [
    # action day as written, received, deadline
    (date(2026, 11, 24), "2026-11-24 14:00", date(2026, 11, 25)),  # Tue → Wed
    (None, "2026-11-25 17:00", date(2026, 11, 26)),  # no date: the day received, Wed → Thu
    (date(2026, 11, 27), "2026-11-28 11:00", date(2026, 11, 30)),  # Fri → Mon
    (date(2026, 11, 28), "2026-11-28 11:00", date(2026, 11, 30)),  # Sat → Mon
    (date(2026, 12, 24), "2026-12-24 10:00", date(2026, 12, 29)),  # 25th and 28th bank holidays
    (date(2026, 12, 5), "2026-12-01 10:00", date(2026, 12, 2)),  # never after the request arrived
]


@pytest.mark.parametrize(("day", "received", "deadline"), DEADLINES)
def test_the_emergency_deadline(day: date | None, received: str, deadline: date) -> None:
    assert emergency_deadline(EmergencyAction(EPO, day), at(received), CONFIG.schedule, DAYS, LONDON) == deadline


def test_the_emergency_timescale_is_configuration() -> None:
    two_days = dataclasses.replace(CONFIG.schedule, emergency_timescale_working_days=2)
    action = EmergencyAction(EPO, date(2026, 11, 27))  # a Friday: Monday, then Tuesday
    assert emergency_deadline(action, at("2026-11-27 15:00"), two_days, DAYS, LONDON) == date(2026, 12, 1)


def _free(_day: date) -> list[Interval]:
    return []


def _full_on(day: date) -> Callable[[date], list[Interval]]:
    def busy(asked: date) -> list[Interval]:
        if asked != day:
            return []
        start = datetime.combine(day, time(10), tzinfo=LONDON)
        return [Interval(start, start + timedelta(minutes=90))]

    return busy


def test_a_free_slot_by_the_deadline_is_booked_and_its_check_is_the_deadline() -> None:
    choice = choose_slot(
        at("2026-11-24 14:00"), False, _free, CONFIG.schedule, DAYS, LONDON, deadline=date(2026, 11, 25)
    )
    assert choice is not None
    assert choice.start == at("2026-11-25 10:00")
    assert (choice.deadline, choice.within_timescale) == (date(2026, 11, 25), True)


@pytest.mark.parametrize(
    ("received", "deadline", "slot"),
    [
        ("2026-11-24 16:30", date(2026, 11, 25), "2026-11-25 10:00"),  # past the cut-off: Wednesday still
        ("2026-11-27 16:30", date(2026, 11, 30), "2026-11-30 10:00"),  # Friday evening: Monday
        ("2026-11-28 11:00", date(2026, 11, 30), "2026-11-30 10:00"),  # Saturday: Monday
    ],
)
def test_after_emergency_action_the_cut_off_does_not_pass_over_a_slot_in_time(
    received: str, deadline: date, slot: str
) -> None:
    choice = choose_slot(at(received), False, _free, CONFIG.schedule, DAYS, LONDON, deadline=deadline)
    assert choice is not None and choice.start == at(slot)


@pytest.mark.parametrize(
    ("received", "deadline", "busy"),
    [
        ("2026-11-25 17:00", date(2026, 11, 26), _free),  # target Friday: after Thursday's deadline
        ("2026-11-24 14:00", date(2026, 11, 25), _full_on(date(2026, 11, 25))),  # Wednesday full
    ],
)
def test_no_slot_by_the_deadline_is_none_never_a_later_one(
    received: str, deadline: date, busy: Callable[[date], list[Interval]]
) -> None:
    assert choose_slot(at(received), False, busy, CONFIG.schedule, DAYS, LONDON, deadline=deadline) is None
    assert choose_slot(at(received), False, busy, CONFIG.schedule, DAYS, LONDON) is not None


@pytest.mark.parametrize("state", [S.BOOKED, S.AWAITING_INFORMATION])
def test_no_slot_in_time_waits_for_contact_and_tells_both_at_once(state: CaseState) -> None:
    action = EmergencyAction(POLICE_PROTECTION, date(2026, 11, 25), time(15, 30))
    standard = case("SD000001", Kind.STANDARD, state, "N146782", action=action)
    event = none_in_time(action, at("2026-11-25 17:00"), CONFIG.schedule, DAYS, LONDON)
    decision = decide(CaseView(standard), event, at("2026-11-25 17:00"), POLICY)
    assert decision.state is S.AWAITING_CONTACT
    assert decision.effective_day == date(2026, 11, 26)
    assert decision.change is None and decision.set_timers == ()
    (mail,) = decision.emails
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.EMERGENCY_ACTION_NOTICE, (Role.REFERRAL_UNIT,), (TM,))
    assert mail.context["deadline"] == date(2026, 11, 26)
    assert (mail.context["action_day"], mail.context["action_time"]) == (date(2026, 11, 25), "15:30")


# -- children already known (§3.4) -----------------------------------------------------------------

BOOKED_AT = Booking("SD000001", "uid1", at("2026-11-25 10:00"), at("2026-11-25 10:15"))


def test_known_cases_are_the_other_open_cases_sharing_an_n_number() -> None:
    new = case("SD000009", Kind.STANDARD, S.BOOKED, "N146782", "N200001")
    candidates = [
        case("SD000001", Kind.STANDARD, S.BOOKED, "N146782"),
        case("SD000002", Kind.STANDARD, S.CANCELLED, "N146782"),
        case("SD000003", Kind.URGENT, S.CLOSED, "N200001"),
        case("SD000004", Kind.URGENT, S.CONTACTED, "N200001", "N999999"),
        case("SD000005", Kind.STANDARD, S.BOOKED, "N777777"),
        new,
        case("SD000001", Kind.STANDARD, S.BOOKED, "N146782"),  # found again by its second N number
    ]
    known = known_cases(new, candidates, {"SD000001": BOOKED_AT})
    assert [(k.case_id, k.state, k.n_numbers, k.booking_start) for k in known] == [
        ("SD000001", S.BOOKED, ("N146782",), at("2026-11-25 10:00")),
        ("SD000004", S.CONTACTED, ("N200001",), None),
    ]


def test_a_standard_request_for_a_known_child_tells_the_tm_pm_copied_to_the_referral_unit() -> None:
    new = case("SD000009", Kind.STANDARD, S.BOOKED, "N146782", requester=OTHER_TM)
    known = known_cases(new, [case("SD000001", Kind.STANDARD, S.BOOKED, "N146782")], {"SD000001": BOOKED_AT})
    decision = decide(CaseView(new), OpenCasesFound(known), at("2026-11-24 09:00"), POLICY)
    (mail,) = decision.emails
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.OPEN_CASE_NOTICE, (OTHER_TM,), (Role.REFERRAL_UNIT,))
    assert mail.context["known"] == [
        {
            "case_id": "SD000001",
            "kind": "standard",
            "state": "booked",
            "n_numbers": ["N146782"],
            "start": at("2026-11-25 10:00"),
            "end": at("2026-11-25 10:15"),
        }
    ]
    assert mail.context["cancel_case_id"] == "SD000009"
    assert decision.state is None and decision.history[0].action == "open_case_notice"


def test_an_urgent_request_for_a_child_with_a_booked_discussion_is_told_in_that_discussions_thread() -> None:
    urgent = case("SD000009", Kind.URGENT, S.AWAITING_CONTACT, "N146782", requester=OTHER_TM)
    booked = case("SD000001", Kind.STANDARD, S.BOOKED, "N146782")
    known = known_cases(urgent, [booked], {"SD000001": BOOKED_AT})
    assert booked_discussions(Kind.URGENT, known) == known
    on_urgent = decide(CaseView(urgent), OpenCasesFound(known), at("2026-11-24 09:00"), POLICY)
    assert on_urgent.emails == () and "SD000001" in on_urgent.history[0].detail
    on_booked = decide(
        CaseView(booked, BOOKED_AT), UrgentForBookedChild("SD000009", OTHER_TM, known), at("2026-11-24 09:00"), POLICY
    )
    (mail,) = on_booked.emails
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.OPEN_CASE_NOTICE, (Role.REFERRAL_UNIT,), (OTHER_TM,))
    assert (mail.context["urgent_case_id"], mail.context["cancel_case_id"]) == ("SD000009", "SD000001")
    assert on_booked.state is None


@pytest.mark.parametrize(
    ("kind", "other_kind", "state"),
    [
        (Kind.STANDARD, Kind.STANDARD, S.BOOKED),  # only an urgent request takes a booked one's place
        (Kind.URGENT, Kind.URGENT, S.AWAITING_CONTACT),  # an urgent case has no rota booking to cancel
        (Kind.URGENT, Kind.STANDARD, S.AWAITING_INFORMATION),  # nothing booked yet
    ],
)
def test_the_notice_stays_in_the_new_requests_thread(kind: Kind, other_kind: Kind, state: CaseState) -> None:
    new = case("SD000009", kind, S.AWAITING_CONTACT if kind is Kind.URGENT else S.BOOKED, "N146782")
    known = known_cases(new, [case("SD000001", other_kind, state, "N146782")], {})
    assert booked_discussions(kind, known) == ()
    (mail,) = decide(CaseView(new), OpenCasesFound(known), at("2026-11-24 09:00"), POLICY).emails
    assert mail.to == (TM,) and mail.cc == (Role.REFERRAL_UNIT,)


def test_parse_prints_what_was_taken_and_when() -> None:
    msg = EmailMessage()
    msg["From"] = f"Alex Morgan <{TM}>"
    msg["Subject"] = "Strategy discussion N146782"
    msg["Date"] = format_datetime(at("2026-12-01 09:00"))
    msg.set_content("N number: N146782\nEmergency action taken: Police protection, 30/11/2026 14:00\n")
    summary = parse_summary(bytes(msg), CONFIG)
    assert summary["emergency_action"] == {"taken": "police protection", "date": "2026-11-30", "time": "14:00"}
    msg.replace_header("Subject", "URGENT S47 ENQUIRY N146782")
    del msg["Date"]
    msg.set_content("N number: N146782\nEPO: granted 30 Nov\n")
    assert parse_summary(bytes(msg), CONFIG)["emergency_action"] == {"taken": "EPO", "date": None, "time": None}
