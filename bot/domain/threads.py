"""What a message in a thread is (domain.md §1.2): a reply in a case, a new request, or a reply to the bot."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from bot.domain.model import CaseState, Kind
from bot.domain.purposes import Purpose

# A case in one of these states takes no more replies that ask for a new discussion.
_ENDED = frozenset({CaseState.CANCELLED, CaseState.CLOSED})
_REQUESTS = frozenset({Kind.URGENT, Kind.STANDARD})


class ThreadRoute(StrEnum):
    """Where a message with thread references or a reply subject goes."""

    CASE_REPLY = "case_reply"  # it updates the case it points at (§6)
    NEW_REQUEST = "new_request"  # a request in an ended case's thread: handled as any request
    AGENDA_REPLY = "agenda_reply"  # a reply to the daily agenda: DELAY, else command_help
    BOT_REPLY = "bot_reply"  # a reply to the bot's own mail of no case: command_help, never a case
    UNKNOWN = "unknown"  # points at nothing the bot knows: routed by its subject


def thread_route(
    case_state: CaseState | None,
    bot_purposes: Collection[str],
    kind: Kind,
    reads_as_request: bool,
) -> ThreadRoute:
    """§1.2, given what the message's thread points at.

    ``case_state``: the state of the case the thread belongs to, None when none;
    ``bot_purposes``: the purposes of the bot's own emails among the references;
    ``kind``: the subject's kind, reply prefixes stripped; ``reads_as_request``: the text
    above any quoted part carries the request template, so a "Re: Cancelled: strategy
    discussion" thank-you does not book a new discussion.
    """
    if case_state is not None:
        if case_state in _ENDED and kind in _REQUESTS and reads_as_request:
            return ThreadRoute.NEW_REQUEST
        return ThreadRoute.CASE_REPLY
    if Purpose.DAILY_AGENDA in bot_purposes:
        return ThreadRoute.AGENDA_REPLY
    if bot_purposes:
        return ThreadRoute.BOT_REPLY
    return ThreadRoute.UNKNOWN
