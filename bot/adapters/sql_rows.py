"""What every part of the SQL store shares: instants as UTC text, and one unit of work's connection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam
from sqlalchemy.dialects import sqlite

from bot.adapters.sql_statements import Prepared
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
    Built once per engine and set of columns, and run as a prepared statement (issue 18).
    """

    def __init__(self, table: Table, unique: str) -> None:
        self._table, self._unique = table, unique
        self._statements: dict[tuple[bool, tuple[str, ...]], Prepared] = {}

    def _statement(self, postgres: bool, columns: tuple[str, ...]) -> Prepared:
        statement = self._statements.get((postgres, columns))
        if statement is None:
            values: dict[str, Any] = {name: bindparam(name) for name in columns}
            if postgres:
                # Imported here: on SQLite no command loads the PostgreSQL dialect (about 0.02 s).
                from sqlalchemy.dialects import postgresql

                into = postgresql.insert(self._table).values(values)
                built: Insert = into.on_conflict_do_nothing(index_elements=[self._unique])
                built = built.returning(self._table.c[self._unique])
            else:
                built = sqlite.insert(self._table).values(values).on_conflict_do_nothing()
            statement = self._statements[(postgres, columns)] = Prepared(built)
        return statement

    def __call__(self, conn: Connection, values: Mapping[str, object]) -> bool:
        if conn.dialect.name == "postgresql":
            return self._statement(True, tuple(values)).first(conn, values) is not None
        return self._statement(False, tuple(values)).run(conn, values) > 0


class Upsert:
    """One row written whole: inserted, or replacing every column of the row with the same ``key``.

    One statement (``INSERT ... ON CONFLICT (key) DO UPDATE``, spelled alike on SQLite and
    PostgreSQL) where a DELETE and an INSERT were; every column must be given, so nothing of
    the row it replaces survives, as with the delete.
    """

    def __init__(self, table: Table, key: str) -> None:
        self._table, self._key = table, key
        self._statements: dict[bool, Prepared] = {}

    def _statement(self, postgres: bool) -> Prepared:
        statement = self._statements.get(postgres)
        if statement is None:
            if postgres:
                from sqlalchemy.dialects import postgresql

                into: Any = postgresql.insert(self._table)
            else:
                into = sqlite.insert(self._table)
            columns = [c.key for c in self._table.c]
            into = into.values({name: bindparam(name) for name in columns})
            replace = {name: into.excluded[name] for name in columns if name != self._key}
            built = into.on_conflict_do_update(index_elements=[self._key], set_=replace)
            statement = self._statements[postgres] = Prepared(built)
        return statement

    def __call__(self, conn: Connection, values: Mapping[str, object]) -> None:
        if len(values) != len(self._table.c):
            missing = sorted(set(self._table.c.keys()) - set(values))
            raise ValueError(f"{self._table.name}: a row is written whole; missing {', '.join(missing)}")
        self._statement(conn.dialect.name == "postgresql").run(conn, values)


class SqlRows:
    """The rows of some tables, read and written inside one unit of work."""

    def __init__(self, conn: Connection, sealer: Sealer | None = None) -> None:
        self.conn = conn
        # Seals the personal data written (case details, outgoing mail) when privacy.key_env is set.
        self.sealer = sealer
