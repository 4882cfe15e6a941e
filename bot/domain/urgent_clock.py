"""When the one-hour call-back clock of an URGENT S47 ENQUIRY starts, and when the call is due (domain.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def _utc(moment: datetime, what: str) -> datetime:
    # A naive datetime would silently be read as the server's local time: refuse it.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: got {moment.isoformat()}; expected a timezone-aware datetime")
    return moment.astimezone(UTC)


def clock_start(date_header: datetime | None, received: datetime, max_age_hours: int) -> datetime:
    """§4.1: t0, in UTC: the ``Date`` header when plausible, else the time the inbox received the message.

    Mail can take 5 to 20 minutes to reach the unit (county document), so the sender's
    ``Date`` is the fairer start. It is ignored when it is after receipt (a clock running
    fast) or more than ``max_age_hours`` before it (an old message resent, or a clock far
    wrong); both bounds are inclusive. A naive or missing header counts as implausible.
    """
    # Compared as UTC instants: two London times around the autumn change would otherwise
    # be compared by their wall-clock readings.
    arrived = _utc(received, "received")
    if date_header is None or date_header.tzinfo is None or date_header.utcoffset() is None:
        return arrived
    try:
        sent = date_header.astimezone(UTC)
    except OverflowError:  # a hostile header at the edge of the calendar
        return arrived
    if arrived - timedelta(hours=max_age_hours) <= sent <= arrived:
        return sent
    return arrived


def callback_due(t0: datetime, minutes: int) -> datetime:
    """§4.3: when police should have rung the TM/PM back: real elapsed minutes, any hour, in UTC."""
    return _utc(t0, "t0") + timedelta(minutes=minutes)
