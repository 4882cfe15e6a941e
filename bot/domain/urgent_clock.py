"""When the one-hour call-back clock of an URGENT S47 ENQUIRY starts (domain.md §4.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def clock_start(date_header: datetime | None, received: datetime, max_age_hours: int) -> datetime:
    """t0: the ``Date`` header when plausible, else the time the inbox received the message.

    Mail can take 5 to 20 minutes to reach the unit (county document), so the sender's
    ``Date`` is the fairer start; it is ignored when it is after receipt (a wrong clock) or
    more than ``max_age_hours`` before it (a resent or forged old message).
    """
    plausible = (
        date_header is not None
        and date_header.tzinfo is not None
        and received - timedelta(hours=max_age_hours) <= date_header <= received
    )
    if plausible and date_header is not None:
        return date_header.astimezone(UTC)
    return received.astimezone(UTC)


def callback_due(t0: datetime, minutes: int) -> datetime:
    """When police should have rung the TM/PM back: real time, any hour (§4.3)."""
    return t0 + timedelta(minutes=minutes)
