"""The daily retention purge at scale (issue 18): cases purged in an earlier year are not read again every day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from bot.domain.model import CaseState, Kind, RequestDetails, Requester
from bot.wiring import Bot
from tests.support.requests_mail import london

LONG_AGO = london("2024-03-04 09:00")
NOW = london("2026-11-23 03:00")  # after privacy.purge_time


def test_a_later_purge_reads_none_of_the_cases_purged_before(bot: Bot) -> None:
    with bot.store.transaction() as tx:
        for n in range(30):
            details = RequestDetails((f"N{600000 + n}",), surname=f"Family{n}", requester=Requester("M", "TM"))
            case = tx.add_case(Kind.STANDARD, CaseState.CLOSED, details, f"<p{n}@council.example>", LONG_AGO, LONG_AGO)
            tx.add_history(case.case_id, LONG_AGO, "bot", "closed", "nothing pending")
    assert bot.service.purge(NOW) == (30, 0)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(bot.store.engine, "before_cursor_execute", seen)
    try:
        # A year on: their last change (the purge itself) is past the retention period again.
        assert bot.service.purge(NOW + timedelta(days=400)) == (0, 0)
    finally:
        event.remove(bot.store.engine, "before_cursor_execute", seen)
    # The candidates' query and the emails' purge; before, each of the 30 cases was read again.
    reads_of_a_case = [s for s in statements if "FROM cases" in s and "WHERE cases.case_id = ?" in s]
    assert reads_of_a_case == []
    with bot.store.transaction() as tx:
        case = tx.case("SD000001")
        assert case is not None and case.details == RequestDetails(n_numbers=("N600000",))
        assert [h.action for h in tx.history("SD000001")].count("purged") == 1
