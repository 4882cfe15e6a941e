"""§1.2 as a table: what a message in a thread is, given what its references point at."""

from __future__ import annotations

import pytest

from bot.domain.model import CaseState, Kind
from bot.domain.threads import ThreadRoute, thread_route

R = ThreadRoute


@pytest.mark.parametrize(
    ("state", "purposes", "kind", "reads_as_request", "route"),
    [
        # A reply in an open case updates it, whatever its subject.
        (CaseState.BOOKED, {"confirmation"}, Kind.STANDARD, True, R.CASE_REPLY),
        (CaseState.AWAITING_CONTACT, set(), Kind.URGENT, True, R.CASE_REPLY),
        (CaseState.BOOKED, {"confirmation"}, Kind.UNRECOGNISED, False, R.CASE_REPLY),
        # A request in a cancelled or closed case's thread is a new request.
        (CaseState.CANCELLED, {"cancellation"}, Kind.STANDARD, True, R.NEW_REQUEST),
        (CaseState.CLOSED, {"confirmation"}, Kind.URGENT, True, R.NEW_REQUEST),
        # ... but a thank-you under the bot's own subject is still a reply in that case.
        (CaseState.CANCELLED, {"cancellation"}, Kind.STANDARD, False, R.CASE_REPLY),
        (CaseState.CLOSED, set(), Kind.UNRECOGNISED, True, R.CASE_REPLY),
        # The bot's own mail of no case: never a case, whatever the subject says.
        (None, {"daily_agenda"}, Kind.STANDARD, False, R.AGENDA_REPLY),
        (None, {"daily_agenda", "admin_alert"}, Kind.UNRECOGNISED, False, R.AGENDA_REPLY),
        (None, {"admin_alert"}, Kind.STANDARD, True, R.BOT_REPLY),
        (None, {"near_miss_alert"}, Kind.URGENT, True, R.BOT_REPLY),
        (None, {"triage_reply"}, Kind.STANDARD, True, R.BOT_REPLY),
        (None, {"quarantine_notice"}, Kind.UNRECOGNISED, False, R.BOT_REPLY),
        # Nothing the bot knows: routed by its subject as before.
        (None, set(), Kind.STANDARD, True, R.UNKNOWN),
    ],
)
def test_thread_route(
    state: CaseState | None, purposes: set[str], kind: Kind, reads_as_request: bool, route: ThreadRoute
) -> None:
    assert thread_route(state, purposes, kind, reads_as_request) is route
