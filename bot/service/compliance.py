"""The compliance record kept up to date (domain.md §5): rewritten in the unit of work that changed the case."""

from __future__ import annotations

import logging
from datetime import date, datetime

from bot.domain.compliance import compliance_record
from bot.domain.compliance_figures import Figures, figures
from bot.domain.decisions import Policy
from bot.ports import Store, StoreTransaction

log = logging.getLogger("bot.service")


def record_compliance(tx: StoreTransaction, case_id: str, policy: Policy, now: datetime) -> None:
    """The case's record from what this transaction now holds of it: case, booking, history, timers."""
    case = tx.case(case_id)
    if case is None:
        return
    booking, history, timers = tx.booking_for(case_id), tx.history(case_id), tx.timers_for(case_id)
    tx.put_compliance(compliance_record(case, booking, history, timers, policy, now))


def backfill_compliance(tx: StoreTransaction, policy: Policy, now: datetime) -> int:
    """Records for the cases that predate the compliance record, made from their history; how many."""
    missing = tx.cases_without_compliance()
    for case_id in missing:
        record_compliance(tx, case_id, policy, now)
    if missing:
        log.info("compliance record back-filled for %d case(s)", len(missing))
    return len(missing)


def compliance_figures(store: Store, policy: Policy, start: date, end: date, now: datetime) -> Figures:
    """The figures for ``start``–``end`` over the store, back-filling the records of older cases first."""
    with store.transaction() as tx:
        backfill_compliance(tx, policy, now)
        records = tx.compliance_records()
    return figures(records, start, end, now, policy.days, policy.tz)
