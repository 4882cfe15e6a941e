"""§5 Closing a case, run as a periodic check: every case not closed is put to the closing rule."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol, cast

from bot.domain.closing import MINUTES_ACTIONS, CloseCheck
from bot.domain.model import Case
from bot.service.handled import Handled
from bot.service.setup import Setup
from bot.service.unit import Unit

log = logging.getLogger("bot.service")


class ClosingRecords(Protocol):
    """What the check reads beside a store transaction's usual rows (``bot.ports`` is full)."""

    def cases_to_check_for_closing(self, after: str | None = None, limit: int | None = None) -> list[Case]:
        """Every case not closed, a cancelled one included, oldest first; after ``after``, at most ``limit``."""


def close_finished(setup: Setup, now: datetime) -> list[tuple[str, str]]:
    """Close every case with nothing pending (domain.md §5); returns (case id, reason) of each closed."""
    closed, _ = close_some(setup, now)
    return closed


def close_some(
    setup: Setup, now: datetime, after: str | None = None, limit: int | None = None
) -> tuple[list[tuple[str, str]], str | None]:
    """The check on the cases after ``after``, at most ``limit`` of them, in one transaction.

    Returns the cases closed and the last case checked (None when the slice reached the end):
    the daemon checks a slice per round, so that many open cases never hold the round up.
    """
    closed: list[tuple[str, str]] = []
    last: str | None = None
    with setup.store.transaction() as tx:
        cases = cast(ClosingRecords, tx).cases_to_check_for_closing(after, limit)
        if limit is not None and len(cases) == limit:
            last = cases[-1].case_id
        for case in cases:
            history = tx.history(case.case_id)
            if not history:
                continue
            check = CloseCheck(
                last_event_at=max(entry.at for entry in history),
                minutes_recorded=any(entry.action in MINUTES_ACTIONS for entry in history),
            )
            unit = Unit(setup, tx, now, Handled(f"closing:{case.case_id}", "timer", "processed", case.case_id))
            _, decision = unit.decide(case, check, with_history=True)
            unit.record_compliance()
            if decision.applies:
                reason = decision.history[0].detail
                closed.append((case.case_id, reason))
                log.info("case %s closed: %s", case.case_id, reason)
    return closed, last
