"""What the store keeps beside cases and bookings: seen messages, queued emails, timers, history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SeenMessage:
    """How an earlier delivery of a message was handled: what makes a second delivery a no-op."""

    message_id: str
    kind: str  # urgent, standard, reply, auto, unrecognised
    outcome: str  # processed, triage, quarantine, ignored
    reason: str | None
    case_id: str | None


@dataclass(frozen=True)
class QueuedEmail:
    """An email in the outbox, waiting to be delivered (or retried)."""

    id: int
    message_id: str
    case_id: str | None
    purpose: str
    recipients: tuple[str, ...]  # the envelope: To and Cc, each once
    raw: bytes  # the rendered message, unsealed
    attempts: int
    # Handed to the server before and not known to be taken: a crash came between (sent again, same Message-ID).
    resend: bool = False


@dataclass(frozen=True)
class TimerRow:
    """A deadline the bot keeps (an escalation, a reminder, the minutes pack, the daily agenda)."""

    id: int
    # Unique: scheduling the same deadline twice keeps the first.
    key: str
    case_id: str | None  # None: not about one case (the daily agenda)
    purpose: str
    due_at: datetime
    detail: str
    status: str  # pending, fired, cancelled, failed
    late: bool  # fired after its due time (the daemon was down, or busy)
    # What the timer belongs to within its case (a booking, a held discussion), so that a
    # change to one never cancels the other's timers; "" when the case is the whole story.
    scope: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a case's audit history: who did what, when, from which message."""

    case_id: str | None
    at: datetime
    actor: str
    action: str
    detail: str
    message_id: str | None


# (table, labels, count): one group of the figures the metrics publish.
Tally = tuple[str, tuple[str, ...], int]
