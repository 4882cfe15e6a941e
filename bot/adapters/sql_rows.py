"""What every part of the SQL store shares: instants as UTC text, and one unit of work's connection."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from bot.sealing import Sealer


def utc_text(moment: datetime) -> str:
    """An aware instant as sortable UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class SqlRows:
    """The rows of some tables, read and written inside one unit of work."""

    def __init__(self, conn: Connection, sealer: Sealer | None = None) -> None:
        self.conn = conn
        # Seals the personal data written (case details, outgoing mail) when privacy.key_env is set.
        self.sealer = sealer
