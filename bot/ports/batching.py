"""Senders that make a batch of deliveries durable together (one directory sync per batch)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
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
