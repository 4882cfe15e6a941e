"""A batch of messages handled in one store transaction; handled again one by one when one of them fails.

Inside a store batch a message's unit of work is no savepoint (issue 18), so a message that
fails spoils the whole batch (``BatchSpoiled``). The batch is then rolled back whole, and its
messages are handled again, each in a transaction of its own: the bad one is quarantined
alone, and every other is handled once, none lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.ports import IncomingMail, Store
from bot.ports.batching import BatchSpoiled
from bot.service.handled import Handled

log = logging.getLogger(__name__)


def handle_batch(
    store: Store,
    handle: Callable[[IncomingMail, datetime], Handled],
    chunk: list[IncomingMail],
    now: Callable[[], datetime],
    stopping: Callable[[], bool],
) -> list[tuple[IncomingMail, Handled]]:
    """Handle ``chunk`` in order, committed together; what each came to, up to a stop asked for meanwhile."""
    try:
        with store.batch():
            return _each(handle, chunk, now, stopping)
    except BatchSpoiled as exc:
        # The cause's type only: its text may quote the message.
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "an error"
        log.info(
            "a message of a batch of %d failed (%s): the batch is rolled back and its messages handled again "
            "one at a time",
            len(chunk),
            cause,
        )
    return _each(handle, chunk, now, stopping)


def _each(
    handle: Callable[[IncomingMail, datetime], Handled],
    chunk: list[IncomingMail],
    now: Callable[[], datetime],
    stopping: Callable[[], bool],
) -> list[tuple[IncomingMail, Handled]]:
    handled = []
    for mail in chunk:
        if stopping():
            break
        handled.append((mail, handle(mail, now())))
    return handled
