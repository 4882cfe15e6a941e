"""Batches: senders that make deliveries durable together, and a store batch spoiled by a failed unit."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class BatchDurable(Protocol):
    """A sender whose deliveries inside ``batch()`` are made durable together when it ends.

    The caller commits its record of the deliveries ("sent") only after the batch has
    ended, so a crash before then finds each delivery either durable or not made at all.
    """

    def batch(self) -> AbstractContextManager[None]:
        """Deliveries inside are durable once it has exited without error."""


def sender_batch(sender: object) -> AbstractContextManager[None]:
    """The sender's own batch when it has one; nothing otherwise."""
    return sender.batch() if isinstance(sender, BatchDurable) else nullcontext()


class BatchSpoiled(Exception):  # noqa: N818 - says what became of the batch, as LeaseLost does
    """A unit of work inside a store ``batch`` raised: the whole batch is rolled back, nothing kept.

    Inside a batch a unit of work is no savepoint (issue 18): what it wrote before it failed
    cannot be undone alone. The store raises this from the unit's failure (the failure is its
    ``__cause__``), refuses every later unit of the batch, and rolls the batch back. The caller
    does the batch's work again one unit at a time, each in a transaction of its own, where a
    failure rolls back alone (``bot/batch_intake.py``). Not a ``BotError``: nothing that handles
    a message's or a server's trouble may take it for its own.
    """


@runtime_checkable
class HeldTimers(Protocol):
    """A store transaction that can hold new timers and write them with its batch's others (issue 18)."""

    def hold_timer(
        self, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str = "", scope: str = ""
    ) -> None:
        """``add_timer`` for a key the caller knows to be new (it knows every timer of the case), unanswered.

        Written before anything in the transaction reads or changes a timer, and before the commit;
        a key taken meanwhile after all (another instance) is left as it is, as ``add_timer`` would.
        """
