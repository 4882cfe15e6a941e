"""What every part of the SQL store shares: instants as UTC text, and one unit of work's connection."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

from bot.sealing import Sealer


def utc_text(moment: datetime) -> str:
    """An aware instant as sortable UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def insert_if_new(table: Table, unique: str) -> dict[str, Insert]:
    """An INSERT that does nothing when a row with the same ``unique`` column is there, by dialect name.

    The one place the two engines' spellings differ: SQLite's ``INSERT OR IGNORE`` (any conflict)
    and PostgreSQL's ``ON CONFLICT (unique) DO NOTHING``. ``rowcount`` says whether it inserted.
    """
    return {
        "sqlite": sqlite.insert(table).on_conflict_do_nothing(),
        "postgresql": postgresql.insert(table).on_conflict_do_nothing(index_elements=[unique]),
    }


class SqlRows:
    """The rows of some tables, read and written inside one unit of work."""

    def __init__(self, conn: Connection, sealer: Sealer | None = None) -> None:
        self.conn = conn
        # Seals the personal data written (case details, outgoing mail) when privacy.key_env is set.
        self.sealer = sealer
