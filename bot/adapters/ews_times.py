"""Times on Exchange: exchangelib's ``EWSDateTime`` as a plain aware ``datetime`` and back, never without a zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib.ewsdatetime import EWSDateTime

from bot.errors import PermanentError


def aware(value: Any, zone: tzinfo = UTC) -> datetime:
    """An exchangelib ``EWSDateTime`` (always aware) as a plain ``datetime`` in ``zone``."""
    return datetime.fromtimestamp(value.timestamp(), tz=zone)


def ews_time(value: datetime, zone: ZoneInfo) -> Any:
    require_zone(value)
    return EWSDateTime.from_datetime(value.astimezone(zone))


def require_zone(*values: datetime) -> None:
    """A calendar time without a time zone is a bug in the caller: refused before Exchange is asked."""
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise PermanentError(
                f"the calendar time {value:%Y-%m-%d %H:%M} has no time zone, so it cannot be sent to Exchange; "
                "calendar times must say which zone they are in"
            )
