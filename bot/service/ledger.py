"""What a unit of work knows of the cases it changes, kept as it writes them (issue 18).

A decision's view and the compliance record written at the end of a unit are made of the case,
its booking, its history and its timers. A case the unit opened holds in the store only what the
unit wrote; a case it has read changes in the store, while the unit runs, only through the unit's
own writes (one message, one transaction). ``Recording`` passes every call on to the transaction
unchanged and, on the way, keeps each such case's parts as the store now holds them (instants in
UTC to the second, as the store gives them back), so the unit need not read back what it has just
written. A part not known yet is read from the store once, then kept up to date.

Whoever calls the transaction still gets the store's own answers (a read of a case not known yet
is kept as well): only the unit's view and its compliance record use what is kept (the ``known_``
readers below). A write that the ledger cannot follow (a timer fired or failed by its id) forgets
the timers it kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from bot.domain.model import Booking, Case, CaseState, RequestDetails
from bot.domain.records import HistoryEntry, TimerRow
from bot.ports import StoreTransaction
from bot.ports.batching import HeldTimers


def stored(moment: datetime) -> datetime:
    """An instant as the store gives it back: UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass
class _Kept:
    """One case's parts as the store now holds them; None (or ``booking_known`` False): not known."""

    case: Case | None = None
    booking: Booking | None = None
    booking_known: bool = False
    history: list[HistoryEntry] | None = None
    timers: list[TimerRow] | None = None
    keys: set[str] = field(default_factory=set)  # the kept timers' keys


class Recording:
    """A store transaction, every call passed on; the writes to a case also kept (see the module)."""

    def __init__(self, tx: StoreTransaction) -> None:
        self._tx = tx
        self._kept: dict[str, _Kept] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_tx", "_kept"):
            raise AttributeError(name)  # not set up yet (a copy): never the transaction's
        value = getattr(self._tx, name)
        if callable(value):
            setattr(self, name, value)  # a method: the next look-up finds it without coming here
        return value

    # -- writes, passed on and kept --------------------------------------------------------------

    def add_case(self, *args: Any, **kwargs: Any) -> Case:
        case = self._tx.add_case(*args, **kwargs)
        clock = stored(case.clock_start) if case.clock_start is not None else None
        kept = replace(case, received_at=stored(case.received_at), clock_start=clock)
        # A new case: nothing in the store but this.
        self._kept[case.case_id] = _Kept(kept, None, True, [], [])
        return case

    def update_case(
        self,
        case_id: str,
        now: datetime,
        state: CaseState | None = None,
        details: RequestDetails | None = None,
        effective_day: date | None = None,
    ) -> None:
        self._tx.update_case(case_id, now, state=state, details=details, effective_day=effective_day)
        kept = self._kept.get(case_id)
        if kept is None or kept.case is None:
            return
        case = kept.case
        if state is not None:
            case = replace(case, state=state)
        if details is not None:
            case = replace(case, details=details)
        if effective_day is not None:
            case = replace(case, effective_day=effective_day.isoformat())
        kept.case = case

    def add_booking(self, booking: Booking) -> None:
        self._tx.add_booking(booking)
        kept = self._kept.get(booking.case_id)
        if kept is not None and kept.booking_known and booking.status == "booked":
            kept.booking = replace(booking, start=stored(booking.start), end=stored(booking.end))

    def set_booking(self, case_id: str, start: datetime, end: datetime, sequence: int, status: str) -> None:
        self._tx.set_booking(case_id, start, end, sequence, status)
        kept = self._kept.get(case_id)
        if kept is None or not kept.booking_known or kept.booking is None:
            return  # not known, or no booking in the calendar to change
        if status == "booked":
            kept.booking = replace(kept.booking, start=stored(start), end=stored(end), sequence=sequence)
        else:
            kept.booking = None  # the case's booked rows all took the new status

    def add_history(
        self,
        case_id: str | None,
        at: datetime,
        actor: str,
        action: str,
        detail: str = "",
        message_id: str | None = None,
    ) -> None:
        self._tx.add_history(case_id, at, actor, action, detail, message_id)
        kept = self._kept.get(case_id) if case_id is not None else None
        if kept is not None and kept.history is not None:
            kept.history.append(HistoryEntry(case_id, stored(at), actor, action, detail, message_id))

    def add_timer(
        self, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str = "", scope: str = ""
    ) -> bool:
        kept = self._kept.get(case_id) if case_id is not None else None
        # Every timer of the case is known and a case's keys begin with its id: a key not among them
        # is new, so its row can wait to be written with the batch's others (one statement).
        new = kept is not None and kept.timers is not None and key not in kept.keys and key.startswith(f"{case_id}:")
        if new and kept is not None and isinstance(self._tx, HeldTimers):
            self._tx.hold_timer(key, case_id, purpose, due_at, detail, scope)
            self._keep_timer(kept, key, case_id, purpose, due_at, detail, scope)
            return True
        added = self._tx.add_timer(key, case_id, purpose, due_at, detail, scope)
        if kept is None or kept.timers is None or key in kept.keys:
            return added  # the store keeps the first timer of a key
        if not added:
            kept.timers, kept.keys = None, set()  # the store has one the ledger did not know of
            return added
        self._keep_timer(kept, key, case_id, purpose, due_at, detail, scope)
        return added

    @staticmethod
    def _keep_timer(
        kept: _Kept, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str, scope: str
    ) -> None:
        assert kept.timers is not None
        # Row ids grow: a new timer's is above every one the case had (the last kept has the highest).
        row_id = kept.timers[-1].id + 1 if kept.timers else 1
        kept.timers.append(TimerRow(row_id, key, case_id, purpose, stored(due_at), detail, "pending", False, scope))
        kept.keys.add(key)

    def cancel_timers(self, case_id: str, purposes: tuple[str, ...] | None = None, scope: str | None = None) -> int:
        count = self._tx.cancel_timers(case_id, purposes, scope)
        kept = self._kept.get(case_id)
        if kept is not None and kept.timers is not None:
            kept.timers = [
                replace(t, status="cancelled")
                if t.status == "pending"
                and (purposes is None or t.purpose in purposes)
                and (scope is None or t.scope == scope)
                else t
                for t in kept.timers
            ]
        return count

    def mark_timer_fired(self, timer_id: int, now: datetime, late: bool) -> None:
        self._tx.mark_timer_fired(timer_id, now, late)
        self._forget_timers()

    def fail_timer(self, timer_id: int, now: datetime, reason: str) -> None:
        self._tx.fail_timer(timer_id, now, reason)
        self._forget_timers()

    def purge_case(self, case_id: str, now: datetime) -> None:
        self._tx.purge_case(case_id, now)
        self._kept.pop(case_id, None)

    def _forget_timers(self) -> None:
        for kept in self._kept.values():
            kept.timers, kept.keys = None, set()

    # -- reads, passed on: what the store says of a case not known yet is kept ----------------------

    def case(self, case_id: str) -> Case | None:
        case = self._tx.case(case_id)
        kept = self._of(case_id)
        if kept.case is None and case is not None:
            kept.case = case
        return case

    def booking_for(self, case_id: str) -> Booking | None:
        booking = self._tx.booking_for(case_id)
        kept = self._of(case_id)
        if not kept.booking_known:
            kept.booking, kept.booking_known = booking, True
        return booking

    def history(self, case_id: str) -> list[HistoryEntry]:
        history = self._tx.history(case_id)
        if case_id is not None:  # the bot's own entries (no case) are not kept
            kept = self._of(case_id)
            if kept.history is None:
                kept.history = list(history)
        return history

    def timers_for(self, case_id: str) -> list[TimerRow]:
        timers = self._tx.timers_for(case_id)
        if case_id is not None:  # the daily agenda's and the report's (no case) are not kept
            kept = self._of(case_id)
            if kept.timers is None:
                kept.timers = sorted(timers, key=lambda t: t.id)  # kept in the order of their rows
                kept.keys = {t.key for t in timers}
        return timers

    # -- what the unit knows of a case: kept, else read once -------------------------------------

    def _of(self, case_id: str) -> _Kept:
        kept = self._kept.get(case_id)
        if kept is None:
            kept = self._kept[case_id] = _Kept()
        return kept

    def known_case(self, case_id: str) -> Case | None:
        kept = self._of(case_id)
        return kept.case if kept.case is not None else self.case(case_id)

    def known_booking(self, case_id: str) -> Booking | None:
        kept = self._of(case_id)
        return kept.booking if kept.booking_known else self.booking_for(case_id)

    def known_history(self, case_id: str) -> list[HistoryEntry]:
        kept = self._of(case_id)
        if kept.history is None:
            self.history(case_id)
        return list(kept.history or ())

    def known_timers(self, case_id: str) -> list[TimerRow]:
        """The case's timers in the store's order (due, then row)."""
        kept = self._of(case_id)
        if kept.timers is None:
            self.timers_for(case_id)
        return sorted(kept.timers or (), key=lambda t: (t.due_at, t.id))
