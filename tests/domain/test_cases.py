"""The life of a case as decisions (issue 11 §1): every command and every timer in every state, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.domain.booking_rules import BookedForMovedFamily, NoSlot, Rebooked
from bot.domain.case_commands import COMMANDS, entitled
from bot.domain.case_states import TRANSITIONS, IllegalTransition
from bot.domain.case_timers import CASE_TIMERS
from bot.domain.cases import CommandGiven, decide
from bot.domain.commands import Command
from bot.domain.deadlines import urgent_ladder
from bot.domain.decisions import (
    CancelBooking,
    CaseTimer,
    CaseView,
    Decision,
    FamilyMoved,
    Move,
    Overrun,
    Role,
    TimersToCancel,
    booking_scope,
)
from bot.domain.model import Booking, Case, CaseState, Kind, RequestDetails, Requester
from bot.domain.purposes import LADDER, MINUTES_CHASE, Outcome, Purpose
from bot.domain.review_dates import ReviewDate
from bot.domain.working_days import WorkingDays
from bot.service.setup import policy_for

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
POLICY = replace(
    policy_for(CONFIG, WorkingDays.from_schedule(CONFIG.schedule)),
    recipient_domains=("council.example", "nhs.example", "police.example"),
    receiving_authority_domains=("receiving.example",),
)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)
TM = "alex.morgan@council.example"
HEALTH = "safeguarding.health@nhs.example"
DETAILS = RequestDetails(
    n_numbers=("N146782",),
    surname="Bond",
    requester=Requester("Alex Morgan", "Team Manager", "01632 960001", TM),
    reason="injury",
    health_rep=HEALTH,
)
BOOKING = Booking(
    "SD000001", "SD000001@bot.example", NOW + timedelta(days=2, hours=1), NOW + timedelta(days=2, hours=1, minutes=15)
)
S = CaseState


def view(kind: Kind, state: CaseState, booking: Booking | None = BOOKING, **extra: object) -> CaseView:
    case = Case("SD000001", kind, state, DETAILS, "<root@council.example>", NOW, clock_start=NOW)
    return CaseView(case, booking if state is not S.AWAITING_CONTACT else None, **extra)  # type: ignore[arg-type]


COMMAND_WORDS = {
    "CONTACTED": Command("CONTACTED"),
    "HELD": Command("HELD"),
    "CANCEL": Command("CANCEL"),
    "RESCHEDULE": Command("RESCHEDULE"),
    "COMPLEX": Command("COMPLEX"),
    "DELAY": Command("DELAY", minutes=20),
    "MINUTES SHARED": Command("MINUTES SHARED"),
    "OUTCOME": Command("OUTCOME", outcome=Outcome.JOINT_S47),
    "MOVED": Command("MOVED", invitees=("duty@receiving.example",)),
    "REVIEW": Command("REVIEW", review=ReviewDate(14, 12)),
    "FURTHER": Command("FURTHER"),
    "S47 RECORDED": Command("S47 RECORDED"),
    "ICPC HELD": Command("ICPC HELD"),
}


def _expected(word: str, kind: Kind, state: CaseState) -> tuple[bool, CaseState | None]:
    """What domain.md §6 says each word does in each state: (applies, next state or None for unchanged)."""
    open_states = state not in (S.CANCELLED, S.CLOSED)
    match word:
        case "CONTACTED":
            # Any case waiting for police contact: urgent, or standard after emergency action (§3.4).
            ok = S.CONTACTED in TRANSITIONS[state]
            return ok, S.CONTACTED if ok else None
        case "HELD":
            ok = S.HELD in TRANSITIONS[state]
            return ok, S.HELD if ok else None
        case "CANCEL":
            ok = S.CANCELLED in TRANSITIONS[state]
            return ok, S.CANCELLED if ok else None
        case "RESCHEDULE" | "COMPLEX":
            return state is S.BOOKED, None
        case "S47 RECORDED" | "ICPC HELD":
            # Only after an S47 outcome (issue 14); these views have none: refused with the reason.
            return False, None
        case "MOVED" | "REVIEW" | "FURTHER" | "MINUTES SHARED" | "OUTCOME":
            # Words that need a live case: refused with the reason on a cancelled or closed one (§6).
            return open_states, None
        case _:
            return True, None


CASES = [(word, kind, state) for word in COMMAND_WORDS for kind in (Kind.STANDARD, Kind.URGENT) for state in CaseState]


@pytest.mark.parametrize(("word", "kind", "state"), CASES)
def test_every_command_in_every_state(word: str, kind: Kind, state: CaseState) -> None:
    decision = decide(view(kind, state), CommandGiven(COMMAND_WORDS[word], TM), NOW, POLICY)
    applies, next_state = _expected(word, kind, state)
    assert decision.applies is applies
    if applies:
        assert decision.state is next_state


def test_the_registry_covers_every_word_the_reader_knows() -> None:
    assert set(COMMANDS) == set(COMMAND_WORDS)
    assert [rule.usage for rule in COMMANDS.values()][5] == "DELAY <minutes>"
    assert "joint S47 | single S47 | no further action | child in need" in COMMANDS["OUTCOME"].usage


def test_contacted_stops_the_ladder_and_sends_the_minutes_pack_to_the_tm_and_the_duty_ds() -> None:
    ladder = urgent_ladder(NOW, POLICY.timers, POLICY.urgent)
    pending = tuple(CaseTimer(Purpose(d.purpose), d.due, "urgent", d.detail) for d in ladder)
    decision = decide(
        view(Kind.URGENT, S.AWAITING_CONTACT, pending=pending), CommandGiven(Command("CONTACTED"), TM), NOW, POLICY
    )
    assert decision.cancel_timers == (TimersToCancel(LADDER),)
    assert [(m.purpose, m.to) for m in decision.emails] == [(Purpose.MINUTES_TEMPLATE, (TM, Role.DUTY_DS))]
    assert decision.history[0].detail == "police contact recorded; 9 escalation(s) stopped"


def test_held_urgent_starts_the_minutes_clock_and_a_standard_one_does_not() -> None:
    urgent = decide(view(Kind.URGENT, S.CONTACTED), CommandGiven(Command("HELD"), TM), NOW, POLICY)
    assert {t.purpose for t in urgent.set_timers} == MINUTES_CHASE
    assert urgent.set_timers[-1].due == datetime(2026, 11, 24, 9, 0, tzinfo=LONDON)
    standard = decide(view(Kind.STANDARD, S.BOOKED), CommandGiven(Command("HELD"), TM), NOW, POLICY)
    assert standard.set_timers == ()


def test_the_calendar_side_of_commands_is_named_for_the_service() -> None:
    def change(word: str) -> object:
        return decide(view(Kind.STANDARD, S.BOOKED), CommandGiven(COMMAND_WORDS[word], TM), NOW, POLICY).change

    assert change("CANCEL") == CancelBooking(TM)
    assert change("RESCHEDULE") == Move(make_complex=False)
    assert change("COMPLEX") == Move(make_complex=True)
    assert change("DELAY") == Overrun(20)
    assert change("MOVED") == FamilyMoved(("duty@receiving.example",))


def test_outcome_counts_later_timescales_from_the_discussion_not_the_reply() -> None:
    later = NOW + timedelta(days=7)
    decision = decide(view(Kind.STANDARD, S.HELD), CommandGiven(COMMAND_WORDS["OUTCOME"], TM), later, POLICY)
    s47 = [t for t in decision.set_timers if t.purpose is Purpose.S47_OUTCOME_DUE]
    # Discussion Wed 25 Nov: working day 3 is Mon 30 Nov.
    assert s47[0].due.astimezone(LONDON).date().isoformat() == "2026-11-30"
    nfa = decide(
        view(Kind.STANDARD, S.HELD),
        CommandGiven(Command("OUTCOME", outcome=Outcome.NO_FURTHER_ACTION), TM),
        later,
        POLICY,
    )
    assert nfa.set_timers == ()


def test_delay_is_for_police_only_and_other_words_for_the_requester_too() -> None:
    assert entitled("DELAY", "ds.smith@police.example", TM, "police.example")
    assert not entitled("DELAY", TM, TM, "police.example")
    assert entitled("CANCEL", TM, TM, "police.example")
    assert not entitled("CANCEL", "someone@council.example", TM, "police.example")


# -- timers ------------------------------------------------------------------------------------

TIMER_CASES = [
    (purpose, kind, state) for purpose in CASE_TIMERS for kind in (Kind.STANDARD, Kind.URGENT) for state in CaseState
]


def _timer_needed(purpose: Purpose, state: CaseState) -> bool:
    if purpose in LADDER:
        return state is S.AWAITING_CONTACT
    if purpose in (Purpose.REMINDER_DAY_BEFORE, Purpose.REMINDER_30_MIN):
        return state is S.BOOKED
    if purpose is Purpose.MINUTES_TEMPLATE:  # a booked discussion, or an urgent meeting (§4.5)
        return state in (S.BOOKED, S.CONTACTED)
    if purpose is Purpose.HELD_CHASE:  # the meeting not yet recorded as held (§4.6)
        return state is S.CONTACTED
    if purpose is Purpose.REVIEW_REMINDER:  # §5: the review of a case still open
        return state not in (S.CANCELLED, S.CLOSED)
    return True


@pytest.mark.parametrize(("purpose", "kind", "state"), TIMER_CASES)
def test_every_timer_in_every_state(purpose: Purpose, kind: Kind, state: CaseState) -> None:
    due = CaseTimer(purpose, NOW, booking_scope(BOOKING), "5")
    decision = decide(view(kind, state), due, NOW, POLICY)
    assert decision.needed is _timer_needed(purpose, state)
    assert decision.state is None  # a timer never changes where a case stands
    if decision.needed:
        assert [m.purpose for m in decision.emails] == [purpose]


@pytest.mark.parametrize(
    ("purpose", "to", "cc"),
    [
        (Purpose.ESCALATION_60, (TM,), (Role.DUTY_DS, Role.REFERRAL_UNIT)),
        (Purpose.ESCALATION_90, (Role.ADMIN_SUPPORT,), (TM,)),
        (Purpose.ESCALATION_120, (Role.MASH_SERVICE_MANAGER,), (Role.ADMIN_SUPPORT, Role.REFERRAL_UNIT, TM)),
        (Purpose.ESCALATION_REPEAT, (Role.MASH_SERVICE_MANAGER,), (Role.ADMIN_SUPPORT, Role.REFERRAL_UNIT, TM)),
    ],
)
def test_the_escalation_ladder_goes_to_the_people_flowchart_a_names(purpose: Purpose, to: tuple, cc: tuple) -> None:
    decision = decide(
        view(Kind.URGENT, S.AWAITING_CONTACT),
        CaseTimer(purpose, NOW + timedelta(minutes=60), "urgent", "1/6"),
        NOW,
        POLICY,
    )
    assert (decision.emails[0].to, decision.emails[0].cc) == (to, cc)
    assert decision.emails[0].context["minutes_since"] == 60


@pytest.mark.parametrize(
    ("detail", "minutes", "repeat", "of"), [("1/6", 180, 1, 6), ("6/6", 480, 6, 6), ("2/3", 240, 2, 3)]
)
def test_each_repeat_says_how_long_it_has_been_and_which_of_how_many_it_is(
    detail: str, minutes: int, repeat: int, of: int
) -> None:
    due = CaseTimer(Purpose.ESCALATION_REPEAT, NOW + timedelta(minutes=minutes), "urgent", detail)
    context = decide(view(Kind.URGENT, S.AWAITING_CONTACT), due, due.due, POLICY).emails[0].context
    assert (context["minutes_since"], context["repeat"], context["repeats"]) == (minutes, repeat, of)
    assert context["repeat_minutes"] == 60


def test_the_ladder_counts_real_minutes_across_the_spring_clock_change() -> None:
    # Opened 00:30 GMT on Sun 29 Mar 2026; 04:30 BST on the wall is three real hours later, not four.
    opened = datetime(2026, 3, 29, 0, 30, tzinfo=LONDON)
    case = Case(
        "SD000001", Kind.URGENT, S.AWAITING_CONTACT, DETAILS, "<root@council.example>", opened, clock_start=opened
    )
    due = CaseTimer(Purpose.ESCALATION_REPEAT, datetime(2026, 3, 29, 4, 30, tzinfo=LONDON), "urgent", "1/6")
    context = decide(CaseView(case), due, due.due, POLICY).emails[0].context
    assert context["minutes_since"] == 180
    assert context["callback_by"] == datetime(2026, 3, 29, 2, 30, tzinfo=LONDON)


def test_reminders_go_to_the_tm_and_everyone_invited_in_allowed_domains() -> None:
    due = CaseTimer(Purpose.REMINDER_30_MIN, BOOKING.start - timedelta(minutes=30), booking_scope(BOOKING))
    decision = decide(view(Kind.STANDARD, S.BOOKED), due, NOW, POLICY)
    assert (decision.emails[0].to, decision.emails[0].cc) == ((TM,), (HEALTH,))


def test_a_timer_of_a_booking_since_moved_sends_nothing() -> None:
    moved = replace(BOOKING, sequence=1)
    due = CaseTimer(Purpose.REMINDER_30_MIN, NOW, booking_scope(BOOKING))
    assert decide(view(Kind.STANDARD, S.BOOKED, booking=moved), due, NOW, POLICY) == Decision(needed=False)


# -- bookings ----------------------------------------------------------------------------------


def test_a_moved_booking_rearms_every_timer_even_at_the_same_times() -> None:
    """Issue 11 §5: timers are keyed by what they are: the new sequence's timers are new ones."""
    lengthened = replace(BOOKING, end=BOOKING.end + timedelta(minutes=15), sequence=1)
    decision = decide(
        view(Kind.STANDARD, S.BOOKED, booking=lengthened), Rebooked(BOOKING, lengthened, DETAILS), NOW, POLICY
    )
    assert decision.cancel_timers == (TimersToCancel(scope=booking_scope(BOOKING)),)
    purposes = {t.purpose for t in decision.set_timers}
    assert purposes == {
        Purpose.REMINDER_DAY_BEFORE,
        Purpose.REMINDER_30_MIN,
        Purpose.MINUTES_TEMPLATE,
        Purpose.MINUTES_REMINDER,
        Purpose.MINUTES_OVERDUE,
    }
    assert {t.scope for t in decision.set_timers} == {booking_scope(lengthened)}
    reminder = next(t for t in decision.set_timers if t.purpose is Purpose.REMINDER_30_MIN)
    assert reminder.due == BOOKING.start - timedelta(minutes=30)  # same instant, a new timer
    assert decision.emails[0].purpose is Purpose.CONFIRMATION


def test_a_family_moving_after_the_discussion_never_stops_its_minutes_chase() -> None:
    new = Booking(
        "SD000001", "SD000001.moved@bot.example", NOW + timedelta(days=4), NOW + timedelta(days=4, minutes=15)
    )
    held_view = view(Kind.STANDARD, S.HELD, booking=new)
    later = BOOKING.end + timedelta(hours=2)
    decision = decide(held_view, BookedForMovedFamily(new, BOOKING, DETAILS), later, POLICY)
    assert decision.cancel_timers == ()
    assert decision.state is S.BOOKED
    before = decide(
        view(Kind.STANDARD, S.BOOKED, booking=new), BookedForMovedFamily(new, BOOKING, DETAILS), NOW, POLICY
    )
    assert before.cancel_timers == (TimersToCancel(scope=booking_scope(BOOKING)),)


def test_no_slot_passes_the_case_to_a_person_and_says_so() -> None:
    decision = decide(view(Kind.STANDARD, S.AWAITING_INFORMATION), NoSlot(), NOW, POLICY)
    assert decision.state is S.NEEDS_PERSON
    assert [(m.purpose, m.cc) for m in decision.emails] == [(Purpose.TIMESCALE_AT_RISK, (Role.REFERRAL_UNIT,))]


def test_an_illegal_transition_is_an_error_not_a_silent_write() -> None:
    with pytest.raises(IllegalTransition, match="cancelled cannot become needs_person"):
        decide(view(Kind.STANDARD, S.CANCELLED), NoSlot(), NOW, POLICY)
