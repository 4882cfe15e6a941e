"""§5 Closing a case, as a table: which cases close at the periodic check, and why; no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.domain.case_states import TRANSITIONS
from bot.domain.cases import decide
from bot.domain.closing import CloseCheck, closing_reason
from bot.domain.decisions import CaseTimer, CaseView, Note, Policy, TimersToCancel
from bot.domain.model import Booking, Case, CaseState, Kind, RequestDetails
from bot.domain.purposes import Purpose
from bot.domain.working_days import WorkingDays
from bot.service.setup import policy_for

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
POLICY = replace(
    policy_for(CONFIG, WorkingDays.from_schedule(CONFIG.schedule)),
    recipient_domains=("council.example",),
    close_after_days=30,
)
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=LONDON)
PAST = Booking("SD000001", "u@bot.example", NOW - timedelta(days=2), NOW - timedelta(days=2) + timedelta(minutes=15))
FUTURE = Booking("SD000001", "u@bot.example", NOW + timedelta(days=2), NOW + timedelta(days=2, minutes=15))
TIMER = CaseTimer(Purpose.ICPC_DUE, NOW + timedelta(days=5), "outcome")
S = CaseState
RECENT = NOW - timedelta(days=1)
DAY_30 = NOW - timedelta(days=30)
DAY_29 = NOW - timedelta(days=29, hours=23)


def view(
    state: CaseState, booking: Booking | None = None, pending: bool = False, outcome: str | None = None
) -> CaseView:
    case = Case("SD000001", Kind.STANDARD, state, RequestDetails(n_numbers=("N146782",)), "<r@x>", NOW)
    return CaseView(case, booking, (TIMER,) if pending else (), outcome=outcome)


CLOSING = [
    # state, booking, timer pending, outcome, minutes recorded, last event -> reason (None: stays open)
    (S.CANCELLED, None, False, None, False, RECENT, "cancelled"),
    (S.CANCELLED, PAST, True, None, False, RECENT, "cancelled"),
    (S.HELD, None, False, "joint S47", True, RECENT, "held, minutes and outcome recorded"),
    (S.BOOKED, PAST, False, "no further action", True, RECENT, "held, minutes and outcome recorded"),
    (S.HELD, None, True, "joint S47", True, RECENT, None),  # the ICPC timer still runs
    (S.HELD, None, False, None, True, RECENT, None),  # no outcome yet
    (S.HELD, None, False, "child in need", False, RECENT, None),  # no minutes yet
    (S.BOOKED, FUTURE, False, "child in need", True, RECENT, None),  # not held yet
    (S.BOOKED, PAST, False, None, False, DAY_30, "nothing pending and no event for 30 days"),
    (S.BOOKED, PAST, False, None, False, DAY_29, None),
    (S.BOOKED, PAST, True, None, False, DAY_30 - timedelta(days=60), None),  # a timer pending: never
    (S.NEEDS_PERSON, None, False, None, False, DAY_30, "nothing pending and no event for 30 days"),
    (S.AWAITING_INFORMATION, None, False, None, False, DAY_30, "nothing pending and no event for 30 days"),
    (S.AWAITING_CONTACT, None, False, None, False, DAY_30, "nothing pending and no event for 30 days"),
    (S.CONTACTED, None, False, None, False, RECENT, None),
    (S.CLOSED, None, False, None, False, DAY_30, None),
]


@pytest.mark.parametrize(("state", "booking", "pending", "outcome", "minutes", "last", "reason"), CLOSING)
def test_closing_rule(
    state: CaseState,
    booking: Booking | None,
    pending: bool,
    outcome: str | None,
    minutes: bool,
    last: datetime,
    reason: str | None,
) -> None:
    the_view = view(state, booking, pending, outcome)
    check = CloseCheck(last_event_at=last, minutes_recorded=minutes)
    assert closing_reason(the_view, check, NOW, POLICY) == reason
    decision = decide(the_view, check, NOW, POLICY)  # every closing is a legal transition
    if reason is None:
        assert not decision.applies
    else:
        assert decision.state is S.CLOSED
        assert decision.history == (Note("closed", reason),)
        assert decision.cancel_timers == ((TimersToCancel(),) if pending else ())


def test_close_after_days_is_the_policy_s() -> None:
    check = CloseCheck(last_event_at=NOW - timedelta(days=8), minutes_recorded=False)
    short = Policy(**{**POLICY.__dict__, "close_after_days": 7})
    assert closing_reason(view(S.NEEDS_PERSON), check, NOW, short) == "nothing pending and no event for 7 days"
    assert closing_reason(view(S.NEEDS_PERSON), check, NOW, POLICY) is None


def test_every_state_but_closed_may_close() -> None:
    assert all(S.CLOSED in TRANSITIONS[state] for state in S if state is not S.CLOSED)
    assert not TRANSITIONS[S.CLOSED]
