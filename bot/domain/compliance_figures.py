"""The compliance figures (issue 14): per timescale and per week, how many were due, how many met it.

Pure arithmetic on compliance records (``bot.domain.compliance``), the period, ``now`` and the
working-day calendar. A timescale counts for a case in the week its due instant falls in, once
that instant has passed (a deadline still to come is neither met nor missed). The delay is how
late: 0 when met; minutes for the call-back, hours for the minutes, working days for the rest
(a bank holiday is not a day late). N numbers and case ids only.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.compliance import ComplianceRecord
from bot.domain.deadlines import at_local, minutes_between
from bot.domain.working_days import WorkingDays

DISCUSSION = "discussion_within_timescale"
CALLBACK = "callback_within_60"
MINUTES = "minutes_on_time"
S47_RECORD = "s47_record_by_day_3"
ICPC = "icpc_within_15"
TIMESCALES = (DISCUSSION, CALLBACK, MINUTES, S47_RECORD, ICPC)

# What each is, as the report says it, and the unit its delay is in.
TITLES = {
    DISCUSSION: "Discussion within 3 working days (5 complex, 1 after emergency action)",
    CALLBACK: "Police call-back within 60 minutes",
    MINUTES: "Minutes within one working day",
    S47_RECORD: "Section 47 record by working day 3",
    ICPC: "Initial conference within 15 working days",
}
UNITS = {
    DISCUSSION: "working days",
    CALLBACK: "minutes",
    MINUTES: "hours",
    S47_RECORD: "working days",
    ICPC: "working days",
}


@dataclass(frozen=True)
class Measured:
    """One case against one timescale: due when, done when (None: not yet), met, how late."""

    timescale: str
    case_id: str
    n_numbers: tuple[str, ...]
    due: datetime
    done: datetime | None
    met: bool
    delay: float


@dataclass(frozen=True)
class Week:
    """One week (Monday to Sunday) of one timescale."""

    monday: date
    due: int
    met: int
    missed: tuple[Measured, ...]


@dataclass(frozen=True)
class TimescaleFigures:
    name: str
    due: int
    met: int
    median_delay: float | None
    worst_delay: float | None
    missed: tuple[Measured, ...]
    weeks: tuple[Week, ...]
    measured: tuple[Measured, ...]

    @property
    def title(self) -> str:
        return TITLES[self.name]

    @property
    def unit(self) -> str:
        return UNITS[self.name]


@dataclass(frozen=True)
class Figures:
    """The report over ``start``–``end`` (London dates, both included), as it stood at ``now``."""

    start: date
    end: date
    now: datetime
    timescales: dict[str, TimescaleFigures]
    callback_minutes: tuple[int, ...]  # minutes from t0 to the call-back, each urgent case called back


Timed = Callable[[ComplianceRecord], tuple[datetime | None, datetime | None]]


def _discussion(r: ComplianceRecord) -> tuple[datetime | None, datetime | None]:
    return r.discussion_due, r.meeting_at


def _callback(r: ComplianceRecord) -> tuple[datetime | None, datetime | None]:
    return r.callback_due, r.contacted_at


def _minutes(r: ComplianceRecord) -> tuple[datetime | None, datetime | None]:
    return r.minutes_due, r.minutes_recorded_at


def _s47(r: ComplianceRecord) -> tuple[datetime | None, datetime | None]:
    return r.s47_due, r.s47_recorded_at


def _icpc(r: ComplianceRecord) -> tuple[datetime | None, datetime | None]:
    return r.icpc_due, r.icpc_held_at


_TIMED: dict[str, Timed] = {
    DISCUSSION: _discussion,
    CALLBACK: _callback,
    MINUTES: _minutes,
    S47_RECORD: _s47,
    ICPC: _icpc,
}


def _dropped(r: ComplianceRecord, due: datetime, done: datetime | None) -> bool:
    """Cancelled before its deadline with nothing done: the timescale no longer applies."""
    return r.cancelled_at is not None and r.cancelled_at < due and done is None


def _lateness(name: str, due: datetime, until: datetime, days: WorkingDays, tz: ZoneInfo) -> float:
    if until <= due:
        return 0.0
    if name == CALLBACK:
        return float(minutes_between(due, until))
    if name == MINUTES:
        return round((until - due).total_seconds() / 3600, 1)
    # ``due`` of a day-counted timescale is the end of its last day (or a time on it).
    last_day = (due - timedelta(microseconds=1)).astimezone(tz).date()
    return float(days.working_days_after(last_day, until.astimezone(tz).date()))


def measure(
    name: str, records: Iterable[ComplianceRecord], now: datetime, days: WorkingDays, tz: ZoneInfo
) -> list[Measured]:
    """Every case whose ``name`` deadline has passed by ``now``, met or missed."""
    out: list[Measured] = []
    for r in records:
        due, done = _TIMED[name](r)
        if due is None or due > now or _dropped(r, due, done):
            continue
        met = done is not None and done <= due
        delay = 0.0 if met else _lateness(name, due, done if done is not None and done <= now else now, days, tz)
        out.append(Measured(name, r.case_id, r.n_numbers, due, done if done and done <= now else None, met, delay))
    return sorted(out, key=lambda m: (m.due, m.case_id))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weeks(start: date, end: date) -> list[date]:
    monday, weeks = _monday(start), []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _summary(name: str, measured: Sequence[Measured], start: date, end: date, tz: ZoneInfo) -> TimescaleFigures:
    delays = [m.delay for m in measured]
    missed = tuple(m for m in measured if not m.met)
    weeks = []
    for monday in _weeks(start, end):
        of_week = [m for m in measured if _monday(m.due.astimezone(tz).date()) == monday]
        weeks.append(Week(monday, len(of_week), sum(m.met for m in of_week), tuple(m for m in of_week if not m.met)))
    return TimescaleFigures(
        name=name,
        due=len(measured),
        met=len(measured) - len(missed),
        median_delay=float(statistics.median(delays)) if delays else None,
        worst_delay=max(delays) if delays else None,
        missed=missed,
        weeks=tuple(weeks),
        measured=tuple(measured),
    )


def period_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants of a period of London dates: from the start's midnight to the midnight after the end."""
    return at_local(start, time(0), tz), at_local(end + timedelta(days=1), time(0), tz)


def figures(
    records: Sequence[ComplianceRecord], start: date, end: date, now: datetime, days: WorkingDays, tz: ZoneInfo
) -> Figures:
    """The figures for the timescales falling due from ``start`` to ``end`` (London dates), as at ``now``."""
    begin, finish = period_bounds(start, end, tz)
    by_name: dict[str, TimescaleFigures] = {}
    for name in TIMESCALES:
        # Due in the period; met or missed (and how late) as things stand at ``now``.
        measured = [m for m in measure(name, records, now, days, tz) if begin <= m.due < finish]
        by_name[name] = _summary(name, measured, start, end, tz)
    callbacks = tuple(
        minutes_between(r.clock_start, r.contacted_at)
        for r in records
        if r.clock_start is not None and r.contacted_at is not None and begin <= r.contacted_at < finish
    )
    return Figures(start, end, now, by_name, callbacks)


def case_label(m: Measured) -> dict[str, object]:
    """A missed case as the report and replay name it: case id and N numbers, never a name."""
    return {"case": m.case_id, "n_numbers": list(m.n_numbers)}


def as_json(f: Figures) -> dict[str, object]:
    """The figures as plain JSON: replay's closing line gives the per-timescale part of it."""
    return {
        "from": f.start.isoformat(),
        "to": f.end.isoformat(),
        "timescales": {
            name: {
                "due": t.due,
                "met": t.met,
                "missed_cases": [case_label(m) for m in t.missed],
                "median_delay": t.median_delay,
                "worst_delay": t.worst_delay,
                "delay_unit": t.unit,
                "weeks": [
                    {
                        "week": w.monday.isoformat(),
                        "due": w.due,
                        "met": w.met,
                        "missed_cases": [case_label(m) for m in w.missed],
                    }
                    for w in t.weeks
                ],
            }
            for name, t in f.timescales.items()
        },
        "callback_minutes": list(f.callback_minutes),
    }
