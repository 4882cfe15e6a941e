"""Quorum roles and attendees' answers (domain.md §2, §3.5–3.6; issue 13 item 6), no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.domain.booking_rules import attendees
from bot.domain.cases import decide
from bot.domain.decisions import CaseView, Note
from bot.domain.model import Booking, Case, CaseState, Kind, RequestDetails, Requester
from bot.domain.purposes import Purpose
from bot.domain.quorum import attendance, quorum_note, social_worker_email
from bot.domain.responses import AttendeeAnswered, MeetingResponse
from bot.domain.working_days import WorkingDays
from bot.service.setup import policy_for

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
DOMAINS = ("council.example", "nhs.example", "police.example")
POLICY = replace(
    policy_for(CONFIG, WorkingDays.from_schedule(CONFIG.schedule)),
    recipient_domains=DOMAINS,
)
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=LONDON)
TM = "alex.morgan@council.example"
SW = "jo.bloggs@council.example"
HEALTH = "nurse@nhs.example"
SCHOOL = "dsl@school.council.example"
FULL = RequestDetails(
    n_numbers=("N146782",),
    requester=Requester("Alex Morgan", "Team Manager", "01632 960001", TM),
    social_worker=f"Jo Bloggs <{SW}>",
    health_rep=HEALTH,
    invitees=(SCHOOL, "someone@gmail.example"),
)


@pytest.mark.parametrize(
    ("written", "email"),
    [
        (f"Jo Bloggs <{SW}>", SW),
        ("Jo Bloggs, Jo.Bloggs@Council.example", SW),
        ("Jo Bloggs", None),
        (None, None),
    ],
)
def test_the_social_worker_s_email_is_read_from_the_field(written: str | None, email: str | None) -> None:
    assert social_worker_email(RequestDetails(social_worker=written)) == email


def test_the_social_worker_is_invited_within_the_allowed_domains() -> None:
    invited, left_out = attendees(FULL, DOMAINS)
    assert invited == [TM, SW, HEALTH, SCHOOL] and left_out == ["someone@gmail.example"]
    outside = RequestDetails(requester=FULL.requester, social_worker="Jo <jo@gmail.example>")
    assert attendees(outside, DOMAINS) == ([TM], ["jo@gmail.example"])


@pytest.mark.parametrize(
    ("details", "declined", "missing"),
    [
        (FULL, (), []),
        (FULL, (HEALTH,), ["health"]),
        (FULL, (SCHOOL,), []),
        (FULL, (SW, HEALTH), ["social worker", "health"]),
        (RequestDetails(requester=FULL.requester), (), ["social worker", "health"]),
        (RequestDetails(requester=FULL.requester, health_rep=HEALTH), (), ["social worker"]),
    ],
)
def test_the_missing_quorum_roles(details: RequestDetails, declined: tuple[str, ...], missing: list[str]) -> None:
    invited, _ = attendees(details, DOMAINS)
    assert attendance(details, invited, declined).missing == missing


def test_the_confirmation_lists_roles_and_names_what_is_missing() -> None:
    invited, _ = attendees(FULL, DOMAINS)
    assert attendance(FULL, invited).by_role() == [
        ("social worker", (SW,)),
        ("manager", (TM,)),
        ("health", (HEALTH,)),
        ("police", ("the referral unit",)),
        ("others", (SCHOOL,)),
    ]
    assert quorum_note([]) is None
    assert quorum_note(["social worker", "health"]) == (
        "Not quorate as invited: the social worker and a health representative are not invited. "
        "Please invite them, or record why at item 1 of the agenda."
    )


def view(state: CaseState = CaseState.BOOKED) -> CaseView:
    case = Case("SD000001", Kind.STANDARD, state, FULL, "<r@x>", NOW)
    start = NOW + timedelta(days=2)
    return CaseView(case, Booking("SD000001", "SD000001@police.example", start, start + timedelta(minutes=15)))


def answered(who: str, partstat: str = "DECLINED", before: tuple[str, ...] = ()) -> AttendeeAnswered:
    return AttendeeAnswered(MeetingResponse(partstat, who, "SD000001@police.example"), before)


def test_a_decline_emptying_a_quorum_role_warns_the_tm_pm() -> None:
    decision = decide(view(), answered(HEALTH), NOW, POLICY)
    [mail] = decision.emails
    assert (mail.purpose, mail.to, mail.cc) == (Purpose.QUORUM_AT_RISK, (TM,), ())
    assert mail.context["emptied"] == ["a health representative"]
    assert decision.history == (Note("invitation_declined", HEALTH), Note("quorum_at_risk", "health"))
    assert decision.state is None


@pytest.mark.parametrize(
    ("state", "event", "note"),
    [
        (CaseState.BOOKED, answered(HEALTH, "ACCEPTED"), "invitation_accepted"),
        (CaseState.BOOKED, answered(SCHOOL), "invitation_declined"),  # "others": quorum unchanged
        (CaseState.BOOKED, answered(HEALTH, before=(HEALTH,)), "invitation_declined"),  # told once
        (CaseState.BOOKED, answered("stranger@council.example"), "invitation_declined"),
        (CaseState.CANCELLED, answered(HEALTH), "invitation_declined"),
        (CaseState.HELD, answered(HEALTH), "invitation_declined"),
    ],
)
def test_other_answers_are_only_recorded(state: CaseState, event: AttendeeAnswered, note: str) -> None:
    decision = decide(view(state), event, NOW, POLICY)
    assert decision.emails == () and decision.history == (Note(note, event.response.attendee),)
