"""§5 minutes and outcome circulated, and commands refused on a case that is over: the decisions, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.domain.cases import CommandGiven, decide
from bot.domain.circulation import MinutesAttached
from bot.domain.commands import Command
from bot.domain.decisions import CaseTimer, CaseView, Role, TimersToCancel
from bot.domain.model import Attachment, Booking, Case, CaseState, Kind, RequestDetails, Requester
from bot.domain.purposes import MINUTES_CHASE, Outcome, Purpose
from bot.domain.working_days import WorkingDays
from bot.service.setup import policy_for

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
POLICY = replace(
    policy_for(CONFIG, WorkingDays.from_schedule(CONFIG.schedule)),
    recipient_domains=("council.example", "nhs.example", "police.example"),
    max_minutes_attachment_bytes=1000,
)
TM = "alex.morgan@council.example"
HEALTH = "health@nhs.example"
DETAILS = RequestDetails(
    n_numbers=("N146782",),
    surname="Bond",
    requester=Requester("Alex Morgan", "Team Manager", "01632 960001", TM),
    reason="injury",
    health_rep=HEALTH,
    invitees=("dsl@school.council.example", "someone@elsewhere.example"),
)
START = datetime(2026, 11, 25, 10, 0, tzinfo=LONDON)  # a Wednesday
BOOKING = Booking("SD000001", "SD000001@bot.example", START, START + timedelta(minutes=15))
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=LONDON)
S = CaseState
MINUTES = Attachment("Minutes N146782.docx", "application/octet-stream", b"PK\x03\x04minutes")


def view(state: CaseState = S.BOOKED, **extra: object) -> CaseView:
    case = Case("SD000001", Kind.STANDARD, state, DETAILS, "<root@council.example>", START - timedelta(days=2))
    return CaseView(case, BOOKING, **extra)  # type: ignore[arg-type]


def chase() -> tuple[CaseTimer, ...]:
    due = datetime(2026, 11, 26, 10, 15, tzinfo=LONDON)
    return (
        CaseTimer(Purpose.MINUTES_REMINDER, due - timedelta(hours=4), "scope"),
        CaseTimer(Purpose.MINUTES_OVERDUE, due, "scope"),
    )


# -- minutes -----------------------------------------------------------------------------------


def test_minutes_attached_go_to_every_invited_attendee_in_allowed_domains_unchanged() -> None:
    decision = decide(view(pending=chase()), MinutesAttached(TM, (MINUTES,)), NOW, POLICY)
    [mail] = decision.emails
    assert mail.purpose is Purpose.MINUTES_CIRCULATION
    assert mail.to == (TM, HEALTH, "dsl@school.council.example")  # elsewhere.example is not allowed
    assert mail.cc == (Role.DUTY_DS, Role.REFERRAL_UNIT)
    assert mail.files == (MINUTES,)
    assert decision.cancel_timers == (TimersToCancel(MINUTES_CHASE),)
    assert [n.action for n in decision.history] == ["minutes_circulated", "minutes_recorded"]
    assert TM in decision.history[0].detail and HEALTH in decision.history[0].detail
    assert "2 reminder(s) stopped" in decision.history[1].detail
    assert decision.refused is None


@pytest.mark.parametrize("name", ["a.docx", "B.PDF", "c.odt", "d.doc", "e.rtf"])
def test_every_minutes_format_is_sent_on(name: str) -> None:
    file = Attachment(name, "application/octet-stream", b"x")
    assert decide(view(), MinutesAttached(TM, (file,)), NOW, POLICY).emails[0].files == (file,)


@pytest.mark.parametrize(
    ("file", "why"),
    [
        (Attachment("photo.jpg", "image/jpeg", b"x"), "photo.jpg (not a .docx, .odt, .pdf, .doc, .rtf file)"),
        (Attachment("minutes.exe", "application/octet-stream", b"x"), "minutes.exe (not a"),
        (Attachment("big.pdf", "application/pdf", b"x" * 1001), "big.pdf (larger than 1,000 bytes)"),
    ],
)
def test_other_files_are_not_sent_on_and_the_sender_is_told_why(file: Attachment, why: str) -> None:
    decision = decide(view(pending=chase()), MinutesAttached(TM, (file,)), NOW, POLICY)
    assert not decision.applies and decision.emails == () and decision.cancel_timers == ()
    assert decision.refused is not None and why in decision.refused


def test_with_minutes_and_a_signature_image_the_minutes_go_and_the_sender_hears_of_the_image() -> None:
    logo = Attachment("image001.png", "image/png", b"png")
    decision = decide(view(), MinutesAttached(TM, (logo, MINUTES)), NOW, POLICY)
    assert decision.applies and decision.emails[0].files == (MINUTES,)
    assert decision.refused is not None
    assert decision.refused.startswith("The minutes were sent on to everyone invited, but these attachments")
    assert "image001.png" in decision.refused


@pytest.mark.parametrize("state", [S.CANCELLED, S.CLOSED])
def test_minutes_for_a_case_that_is_over_are_refused(state: CaseState) -> None:
    decision = decide(view(state), MinutesAttached(TM, (MINUTES,)), NOW, POLICY)
    assert not decision.applies and decision.emails == ()
    assert decision.refused == f"Case SD000001 is {state.value}, so nothing more is recorded or sent for it."


def test_minutes_shared_without_an_attachment_is_recorded_on_the_senders_word() -> None:
    decision = decide(view(pending=chase()), CommandGiven(Command("MINUTES SHARED"), TM), NOW, POLICY)
    assert decision.emails == () and decision.cancel_timers == (TimersToCancel(MINUTES_CHASE),)
    assert [n.action for n in decision.history] == ["minutes_recorded"]


# -- outcome -----------------------------------------------------------------------------------


def outcome(o: Outcome, v: CaseView | None = None) -> CommandGiven:
    return CommandGiven(Command("OUTCOME", outcome=o), TM)


def test_a_joint_s47_outcome_goes_to_everyone_invited_and_sets_the_timescales_from_the_discussion() -> None:
    decision = decide(view(), outcome(Outcome.JOINT_S47, view()), NOW + timedelta(days=2), POLICY)
    [notice] = decision.emails
    assert notice.purpose is Purpose.OUTCOME_NOTICE
    assert notice.to == (TM, HEALTH, "dsl@school.council.example")
    assert notice.cc == (Role.DUTY_DS, Role.REFERRAL_UNIT)
    assert [
        (t.purpose, t.due.astimezone(LONDON).strftime("%a %d %b %H:%M"), t.detail) for t in decision.set_timers
    ] == [
        (Purpose.S47_OUTCOME_DUE, "Mon 30 Nov 09:00", ""),  # working day 3 from Wed 25 Nov
        (Purpose.ICPC_DUE, "Wed 09 Dec 09:00", "5"),
        (Purpose.ICPC_DUE, "Wed 16 Dec 09:00", "0"),
    ]
    assert notice.context["previous"] is None and notice.context["stopped"] == []
    assert [t["purpose"] for t in notice.context["timescales"]] == ["s47_outcome_due", "icpc_due", "icpc_due"]  # type: ignore[index]


@pytest.mark.parametrize("o", [Outcome.NO_FURTHER_ACTION, Outcome.CHILD_IN_NEED])
def test_outcomes_without_s47_set_no_timers(o: Outcome) -> None:
    decision = decide(view(), outcome(o, view()), NOW, POLICY)
    assert decision.set_timers == () and decision.emails[0].context["timescales"] == []


def test_changing_joint_s47_to_no_further_action_stops_the_icpc_timers_and_says_so() -> None:
    first = decide(view(), outcome(Outcome.JOINT_S47, view()), NOW, POLICY)
    later = view(pending=first.set_timers, outcome="joint S47")
    decision = decide(later, outcome(Outcome.NO_FURTHER_ACTION, later), NOW + timedelta(days=1), POLICY)
    assert decision.set_timers == ()
    assert decision.cancel_timers == (TimersToCancel(frozenset({Purpose.S47_OUTCOME_DUE, Purpose.ICPC_DUE})),)
    [notice] = decision.emails
    assert notice.context["previous"] == "joint S47" and notice.context["outcome"] == "no further action"
    assert [t["purpose"] for t in notice.context["stopped"]] == ["s47_outcome_due", "icpc_due", "icpc_due"]  # type: ignore[index]
    assert [(n.action, n.detail) for n in decision.history] == [
        ("outcome", "no further action"),
        ("outcome_replaced", "joint S47 -> no further action; 3 timer(s) stopped"),
    ]


def test_changing_joint_to_single_s47_keeps_the_timers_it_has() -> None:
    first = decide(view(), outcome(Outcome.JOINT_S47, view()), NOW, POLICY)
    later = view(pending=first.set_timers, outcome="joint S47")
    decision = decide(later, outcome(Outcome.SINGLE_S47, later), NOW, POLICY)
    assert decision.set_timers == () and decision.cancel_timers == ()
    assert len(decision.emails[0].context["timescales"]) == 3  # type: ignore[arg-type]


def test_back_to_s47_after_no_further_action_sets_new_timers_under_a_scope_of_their_own() -> None:
    later = view(outcome="no further action")
    decision = decide(later, outcome(Outcome.SINGLE_S47, later), NOW, POLICY)
    assert len(decision.set_timers) == 3
    assert all(t.scope == f"outcome@{NOW.isoformat()}" for t in decision.set_timers)


@pytest.mark.parametrize("state", [S.CANCELLED, S.CLOSED])
@pytest.mark.parametrize("word", ["OUTCOME", "HELD", "CANCEL", "MINUTES SHARED", "COMPLEX"])
def test_a_command_on_a_case_that_is_over_is_refused_with_the_reason(state: CaseState, word: str) -> None:
    command = Command(word, outcome=Outcome.JOINT_S47 if word == "OUTCOME" else None)
    decision = decide(view(state), CommandGiven(command, TM), NOW, POLICY)
    assert not decision.applies and decision.emails == () and decision.set_timers == ()
    assert decision.refused == f"Case SD000001 is {state.value}, so nothing more is recorded or sent for it."


def test_delay_needs_no_live_case() -> None:
    decision = decide(view(S.CANCELLED), CommandGiven(Command("DELAY", minutes=10), TM), NOW, POLICY)
    assert decision.applies and decision.refused is None


def test_an_urgent_outcome_counts_from_the_meeting_recorded_as_held() -> None:
    case = replace(view().case, kind=Kind.URGENT, state=S.HELD)
    held_at = datetime(2026, 11, 27, 17, 0, tzinfo=LONDON)  # a Friday
    urgent = CaseView(case, None, held_at=held_at)
    decision = decide(urgent, outcome(Outcome.JOINT_S47, urgent), held_at + timedelta(days=4), POLICY)
    assert decision.set_timers[0].due == datetime(2026, 12, 2, 9, 0, tzinfo=LONDON)  # day 3 from Fri 27 Nov


def test_an_urgent_cases_conference_email_says_the_date_its_own_time_was_set_for() -> None:
    """Issue 13: a conference "due today" email fired on 18 Dec while its text said "by 14 Dec"."""
    t0 = datetime(2026, 11, 25, 16, 0, tzinfo=LONDON)  # the enquiry arrived on Wednesday
    held_at = datetime(2026, 11, 27, 11, 0, tzinfo=LONDON)  # HELD recorded on Friday
    case = Case("SD000001", Kind.URGENT, S.HELD, DETAILS, "<root@council.example>", t0, clock_start=t0)
    urgent = CaseView(case, None, held_at=held_at)
    set_ = decide(urgent, outcome(Outcome.JOINT_S47), held_at + timedelta(hours=1), POLICY).set_timers
    seen = replace(urgent, outcome="joint S47", pending=set_)
    for timer in set_:
        [mail] = decide(seen, timer, timer.due, POLICY).emails
        assert mail.context["discussion_day"] == held_at.date()
        if timer.purpose is Purpose.ICPC_DUE:
            assert mail.context["icpc_by"] == set_[-1].due.date()  # day 15 from Fri 27 Nov: Fri 18 Dec
            assert set_[-1].due.date().isoformat() == "2026-12-18"
