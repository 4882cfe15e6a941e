"""The SQL store's retention purge: personal data dropped once a case is done (privacy.retention_days)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, literal, select, update

from bot.adapters import sql_schema as t
from bot.adapters.sql_cases import CaseRows
from bot.adapters.sql_rows import utc_text
from bot.adapters.sql_statements import Prepared
from bot.domain.model import Case, CaseState, RequestDetails

# A case in one of these may still be acted on; it is never purged, however old.
OPEN_STATES = (CaseState.AWAITING_INFORMATION, CaseState.BOOKED, CaseState.NEEDS_PERSON, CaseState.AWAITING_CONTACT)
# What the hourly closing check reads: every state but closed (a cancelled case is closed by it).
_NOT_CLOSED = tuple(state.value for state in CaseState if state is not CaseState.CLOSED)


def _closing_check(after: bool, limit: bool) -> Prepared:
    # `state IN` the others, not `!= closed`: read through ix_cases_state, only the cases not closed,
    # never every case closed in earlier years (issue 18: tests/adapters/test_request_cost.py).
    # The states are fixed parameters (the same SQL as an expanded list), so it is prepared once.
    not_closed = [literal(state, t.cases.c.state.type) for state in _NOT_CLOSED]
    query = select(t.cases).where(t.cases.c.state.in_(not_closed)).order_by(t.cases.c.id)
    if after:
        after_id = select(t.cases.c.id).where(t.cases.c.case_id == bindparam("after")).scalar_subquery()
        query = query.where(t.cases.c.id > after_id)
    if limit:
        query = query.limit(bindparam("limit"))
    return Prepared(query)


# The hourly closing check's slices, by whether they start after a case and are limited.
_CLOSING_CHECK = {(after, limit): _closing_check(after, limit) for after in (False, True) for limit in (False, True)}


class RetentionRows(CaseRows):
    """The ``Retention`` port on SQL."""

    def purgeable_cases(self, before: datetime) -> list[str]:
        still_open = [state.value for state in OPEN_STATES]
        timed = select(t.timers.c.case_id).where(t.timers.c.status == "pending").where(t.timers.c.case_id.is_not(None))
        # A case purged on an earlier day says so in its history: not loaded again every day (issue 18).
        purged = (
            select(t.history.c.case_id).where(t.history.c.action == "purged").where(t.history.c.case_id.is_not(None))
        )
        ids = (
            self.conn.execute(
                select(t.cases.c.case_id)
                .where(t.cases.c.state.not_in(still_open))
                .where(t.cases.c.updated_at < utc_text(before))
                .where(t.cases.c.case_id.not_in(timed))
                .where(t.cases.c.case_id.not_in(purged))
                .order_by(t.cases.c.id)
            )
            .scalars()
            .all()
        )
        return [case_id for case_id in ids if not self._purged(case_id)]

    def cases_to_check_for_closing(self, after: str | None = None, limit: int | None = None) -> list[Case]:
        """Every case not closed, a cancelled one included, oldest first (§5 Closing a case).

        ``after`` a case id: only the cases after it; ``limit``: at most that many (a slice of the check).
        """
        statement = _CLOSING_CHECK[(after is not None, limit is not None)]
        rows = statement.rows(self.conn, {"after": after, "limit": limit})
        # The cases whole in the one statement: a slice of 20 was 21 statements (issue 18).
        return [self._case(row) for row in rows]

    def _purged(self, case_id: str) -> bool:
        case = self.case(case_id)
        return case is not None and case.details == RequestDetails(n_numbers=case.details.n_numbers)

    def purge_case(self, case_id: str, now: datetime) -> None:
        case = self.case(case_id)
        if case is None:
            return
        self.update_case(case_id, now, details=RequestDetails(n_numbers=case.details.n_numbers))
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.case_id == case_id)
            .where(t.outbox.c.status.not_in(("pending", "sending")))  # never a mail still to go
            .values(raw=b"", subject="(purged)")
        )
        # The local calendar's copy of the event body names the family and the manager.
        own_events = select(t.bookings.c.uid).where(t.bookings.c.case_id == case_id)
        self.conn.execute(
            update(t.calendar_events).where(t.calendar_events.c.uid.in_(own_events)).values(body="", attendees="")
        )

    def purge_old_emails(self, before: datetime) -> int:
        result = self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.status.not_in(("pending", "sending")))  # never a mail still to go
            .where(t.outbox.c.created_at < utc_text(before))
            .where(t.outbox.c.raw != b"")
            .values(raw=b"", subject="(purged)")
        )
        return int(result.rowcount or 0)
