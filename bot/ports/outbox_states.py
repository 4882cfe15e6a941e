"""The outbox's sending states: what makes SMTP's at-least-once window small and said.

Apart from ``Outbox`` in ``bot/ports/__init__.py`` so that the delivery round, and only it,
asks for them (``bot/delivery.py``); the SQL store's transaction has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class SendingStates(Protocol):
    """An email marked "sending" before it is handed over, "sent" right after the server took it."""

    def mark_sending(self, email_id: int, now: datetime) -> None:
        """Committed before the email is handed to the server: a crash then leaves it "sending" and resent."""

    def release_waiting(self, now: datetime) -> int:
        """Every email waiting out a back-off is due now (the server answers again); returns how many."""
