"""The SQLite database read through Python's own ``sqlite3``, for `strategy-bot status` (issue 18).

`status` reads a few indexed rows (``sql_overview``, ``adapter_state``); importing SQLAlchemy
to do so was half of the command's time. This reads the same file the way ``SqlStore`` does
(a busy timeout, each read in a transaction of its own, storage faults said in one line) and
never writes: no row, no pragma that changes the file, no schema change. It opens only a
database stamped at the newest revision; ``store_opening.open_status_view`` opens any other
through ``SqlStore``, which says what to do about it exactly as every other command does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.adapters.sql_head import HEAD
from bot.errors import StorageError
from bot.storage_faults import storage_fault

_HAS_VERSIONS = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"


class SqliteReader:
    """What `status` reads of the store (``connection``, ``get_state``, ``dialect``), on SQLite alone."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, url: str) -> None:
        self._conn = conn
        self.url = url  # to name the file in a storage fault, as SqlStore does

    @classmethod
    def at_head(cls, path: Path, url: str) -> SqliteReader | None:
        """The database at ``path`` if it is there and stamped at ``sql_head.HEAD``; else None."""
        try:
            # mode=rw: a missing file is an error here, never created empty.
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
        except sqlite3.Error:
            return None
        reader = cls(conn, url)
        try:
            conn.execute("PRAGMA busy_timeout=10000")  # as SqlStore: wait for the daemon's commit
            with reader.connection():
                stamped = None
                if conn.execute(_HAS_VERSIONS).fetchone()[0]:
                    stamped = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
        except (sqlite3.Error, StorageError):
            stamped = None
        if stamped != [HEAD]:
            conn.close()
            return None
        return reader

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection inside a read transaction: every query of one ``status`` sees the same state."""
        try:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")  # reads only: commit and rollback are the same
        except sqlite3.Error as exc:
            line = storage_fault(exc, self.url)
            if line is not None:
                raise StorageError(line) from exc
            raise

    def get_state(self, key: str) -> str | None:
        with self.connection() as conn:
            row = conn.execute("SELECT value FROM adapter_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def dispose(self) -> None:
        self._conn.close()
