"""What every part of the SQL store shares: instants as UTC text, and one unit of work's connection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import sqlite

from bot.sealing import Sealer


def utc_text(moment: datetime) -> str:
    """An aware instant as sortable UTC text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store; every instant must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class InsertIfNew:
    """An INSERT that does nothing when a row with the same ``unique`` column is there; True if it inserted.

    The one place the two engines' spellings differ: ``ON CONFLICT DO NOTHING`` on both, but
    PostgreSQL gives no row count for it (psycopg says -1), so it returns the key it inserted.
    """

    def __init__(self, table: Table, unique: str) -> None:
        self._table, self._unique = table, unique
        self._sqlite: Insert = sqlite.insert(table).on_conflict_do_nothing()
        self._postgresql: Insert | None = None  # built at first use on PostgreSQL

    def __call__(self, conn: Connection, values: Mapping[str, object]) -> bool:
        if conn.dialect.name == "postgresql":
            if self._postgresql is None:
                # Imported here: on SQLite no command loads the PostgreSQL dialect (about 0.02 s).
                from sqlalchemy.dialects import postgresql

                postgres = postgresql.insert(self._table).on_conflict_do_nothing(index_elements=[self._unique])
                self._postgresql = postgres.returning(self._table.c[self._unique])
            return conn.execute(self._postgresql, values).first() is not None
        return bool(conn.execute(self._sqlite, values).rowcount)


class SqlRows:
    """The rows of some tables, read and written inside one unit of work."""

    def __init__(self, conn: Connection, sealer: Sealer | None = None) -> None:
        self.conn = conn
        # Seals the personal data written (case details, outgoing mail) when privacy.key_env is set.
        self.sealer = sealer
