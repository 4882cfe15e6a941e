"""The compliance record and figures (issue 14): known answers, a bank holiday among them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import load_config
from bot.domain.compliance import ComplianceRecord, compliance_record, discussion_deadline
from bot.domain.compliance_figures import (
    CALLBACK,
    DISCUSSION,
    ICPC,
    MINUTES,
    S47_RECORD,
    TIMESCALES,
    as_json,
    figures,
)
from bot.domain.model import Booking, Case, CaseState, EmergencyAction, Kind, RequestDetails
from bot.domain.records import HistoryEntry, TimerRow
from bot.domain.working_days import WorkingDays
from bot.service.setup import policy_for

LONDON = ZoneInfo("Europe/London")
CONFIG = load_config(None)
DAYS = WorkingDays.from_schedule(CONFIG.schedule)
POLICY = policy_for(CONFIG, DAYS)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def case(received: datetime, kind: Kind = Kind.STANDARD, **details: object) -> Case:
    return Case(
        "SD000001",
        kind,
        CaseState.BOOKED,
        RequestDetails(n_numbers=("N146782",), **details),  # type: ignore[arg-type]
        "<r@council.example>",
        received,
        clock_start=received if kind is Kind.URGENT else None,
    )


def record(case_id: str, **instants: object) -> ComplianceRecord:
    received = instants.pop("received_at", at(1, 9))
    return ComplianceRecord(case_id, "standard", "booked", (f"N1{case_id[-5:]}",), received, received, **instants)  # type: ignore[arg-type]


# -- the record: due instants from the bot's own rules ----------------------------------------


def test_discussion_deadline_skips_the_christmas_bank_holidays() -> None:
    # Effective Thu 24 Dec; 25 and 28 Dec are bank holidays: 3 working days on is Thu 31 Dec.
    assert discussion_deadline(case(at(24, 10)), POLICY) == date(2026, 12, 31)
    # Complex, 5 working days: 29, 30, 31 Dec, then 1 Jan is New Year's Day: Tue 5 Jan.
    assert discussion_deadline(case(at(24, 10), complex=True), POLICY) == date(2027, 1, 5)


def test_discussion_deadline_after_emergency_action_is_one_working_day() -> None:
    action = EmergencyAction("EPO", date(2026, 12, 4))  # a Friday
    assert discussion_deadline(case(at(4, 15), emergency_action=action), POLICY) == date(2026, 12, 7)


def test_urgent_case_has_a_callback_due_60_minutes_after_t0_and_no_discussion_deadline() -> None:
    t0 = at(1, 9, 5)
    history = [HistoryEntry("SD000001", at(1, 10, 20), "police@police.example", "contacted", "", None)]
    made = compliance_record(case(t0, Kind.URGENT), None, history, [], POLICY, at(1, 11))
    assert made.callback_due == t0 + timedelta(minutes=60)
    assert made.contacted_at == at(1, 10, 20)
    assert made.discussion_due is None


def test_record_takes_minutes_s47_and_icpc_due_from_the_latest_timers_set() -> None:
    booking = Booking("SD000001", "u@bot.example", at(2, 10), at(2, 10, 15))
    timers = [
        TimerRow(1, "a", "SD000001", "minutes_overdue", at(1, 10, 15), "", "cancelled", False),
        TimerRow(2, "b", "SD000001", "minutes_overdue", at(3, 10, 15), "", "pending", False),
        TimerRow(3, "c", "SD000001", "s47_outcome_due", at(7, 17), "", "pending", False),
        TimerRow(4, "d", "SD000001", "icpc_due", at(16, 17), "5", "pending", False),
        TimerRow(5, "e", "SD000001", "icpc_due", at(23, 17), "0", "pending", False),
    ]
    history = [
        HistoryEntry("SD000001", at(2, 11), "tm@council.example", "held", "", None),
        HistoryEntry("SD000001", at(2, 15), "tm@council.example", "outcome", "joint S47", None),
    ]
    made = compliance_record(case(at(1, 9)), booking, history, timers, POLICY, at(2, 15))
    assert (made.minutes_due, made.s47_due, made.icpc_due) == (at(3, 10, 15), at(7, 17), at(23, 17))
    assert made.meeting_at == at(2, 10) and made.held_at == at(2, 11) and made.outcome == "joint S47"
    no_s47 = [*history, HistoryEntry("SD000001", at(2, 16), "tm@council.example", "outcome", "child in need", None)]
    assert compliance_record(case(at(1, 9)), booking, no_s47, timers, POLICY, at(2, 16)).icpc_due is None


# -- the figures --------------------------------------------------------------------------------

END_OF = {d: at(d + 1, 0) for d in range(1, 31)}  # the end of 1..30 Dec


def test_figures_known_answers_with_a_bank_holiday() -> None:
    records = [
        # Discussion due by the end of Wed 2 Dec, held Wed 2 Dec: met.
        record("SD000001", discussion_due=END_OF[2], meeting_at=at(2, 10)),
        # Due by the end of Thu 24 Dec, held Tue 29 Dec: Fri 25 and Mon 28 are bank holidays,
        # so one working day late, not three.
        record("SD000002", discussion_due=END_OF[24], meeting_at=at(29, 10)),
        # Call-back: t0 09:00, rung at 09:45: met; t0 11:00, rung at 12:30: 30 minutes late.
        record("SD000003", clock_start=at(7, 9), callback_due=at(7, 10), contacted_at=at(7, 9, 45)),
        record("SD000004", clock_start=at(7, 11), callback_due=at(7, 12), contacted_at=at(7, 12, 30)),
        # Minutes due Tue 8 Dec 10:15, recorded 14:15: 4 hours late.
        record("SD000005", minutes_due=at(8, 10, 15), minutes_recorded_at=at(8, 14, 15)),
        # S47 record and ICPC due, nothing recorded: missed; the ICPC's is after the period.
        record("SD000006", s47_due=at(9, 17), icpc_due=at(2, 17, month=1).replace(year=2027)),
        # Cancelled before its deadline: not counted.
        record("SD000007", discussion_due=END_OF[10], cancelled_at=at(8, 9)),
        # Due after now: not counted yet.
        record("SD000008", discussion_due=END_OF[31 - 1], meeting_at=at(30, 10)),
    ]
    now = datetime(2026, 12, 30, 9, 0, tzinfo=LONDON)
    made = figures(records, date(2026, 11, 30), date(2026, 12, 31), now, DAYS, LONDON)
    t = made.timescales
    assert list(t) == list(TIMESCALES)
    assert (t[DISCUSSION].due, t[DISCUSSION].met) == (2, 1)
    assert [m.case_id for m in t[DISCUSSION].missed] == ["SD000002"]
    assert t[DISCUSSION].worst_delay == 1.0 and t[DISCUSSION].median_delay == 0.5
    assert (t[CALLBACK].due, t[CALLBACK].met, t[CALLBACK].worst_delay) == (2, 1, 30.0)
    assert made.callback_minutes == (45, 90)
    assert (t[MINUTES].due, t[MINUTES].met, t[MINUTES].worst_delay) == (1, 0, 4.0)
    # S47 due Wed 9 Dec 17:00, nothing by now (Wed 30 Dec): 13 working days late (25, 28 Dec off).
    assert (t[S47_RECORD].due, t[S47_RECORD].met, t[S47_RECORD].worst_delay) == (1, 0, 13.0)
    assert (t[ICPC].due, t[ICPC].met) == (0, 0)
    # Per week: the discussion met in the week of Mon 30 Nov, missed in the week of Mon 21 Dec.
    weeks = {w.monday: (w.due, w.met, [m.case_id for m in w.missed]) for w in t[DISCUSSION].weeks}
    assert weeks[date(2026, 11, 30)] == (1, 1, [])
    assert weeks[date(2026, 12, 21)] == (1, 0, ["SD000002"])
    assert weeks[date(2026, 12, 28)] == (0, 0, [])
    shown = as_json(made)
    assert shown["from"] == "2026-11-30" and shown["to"] == "2026-12-31"
    assert shown["timescales"][DISCUSSION]["missed_cases"] == [{"case": "SD000002", "n_numbers": ["N100002"]}]  # type: ignore[index]


def test_figures_count_only_what_falls_due_inside_the_period() -> None:
    records = [record("SD000001", discussion_due=END_OF[2], meeting_at=at(9, 10))]
    later = figures(records, date(2026, 12, 7), date(2026, 12, 13), at(20, 9), DAYS, LONDON)
    assert later.timescales[DISCUSSION].due == 0
    inside = figures(records, date(2026, 11, 30), date(2026, 12, 6), at(20, 9).astimezone(UTC), DAYS, LONDON)
    # Held Wed 9 Dec, due by Wed 2 Dec: Thu 3, Fri 4, Mon 7, Tue 8, Wed 9 = 5 working days late.
    assert (inside.timescales[DISCUSSION].due, inside.timescales[DISCUSSION].worst_delay) == (1, 5.0)
