"""The bot's store on SQLAlchemy 2 Core: the engine, its migrations, and the unit of work.

Each table's rows are read and written by their own module (``sql_cases``, ``sql_outbox``,
``sql_timers``, ``sql_history``, ``sql_retention``); ``SqlTransaction`` puts them together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, insert, select, update
from sqlalchemy.engine import ExceptionContext

from bot.adapters import sql_schema as t
from bot.adapters.sql_compliance import ComplianceRows
from bot.adapters.sql_head import HEAD, at_head
from bot.adapters.sql_history import HistoryRows
from bot.adapters.sql_outbox import OutboxRows
from bot.adapters.sql_pending import PendingRows
from bot.adapters.sql_retention import RetentionRows
from bot.adapters.sql_rows import utc_text
from bot.adapters.sql_timers import TimerRows
from bot.errors import StopActing, StorageError
from bot.ports import Store
from bot.ports.batching import BatchSpoiled, HeldTimers
from bot.sealing import Sealer
from bot.storage_faults import storage_fault

log = logging.getLogger(__name__)


class SqlTransaction(RetentionRows, OutboxRows, TimerRows, HistoryRows, ComplianceRows):
    """The ``StoreTransaction`` port on SQL: one unit of work, committed or rolled back together.

    Its history entries and held timers are in ``pending`` (the transaction's own, or its batch's),
    written together before anything reads them and before the commit.
    """

    def __init__(self, conn: Connection, sealer: Sealer | None, pending: PendingRows) -> None:
        super().__init__(conn, sealer)
        self.pending = pending

    def purgeable_cases(self, before: datetime) -> list[str]:
        self.flush_pending()  # it reads the history (cases already purged) and the pending timers
        return super().purgeable_cases(before)


class SqlStore:
    """The database behind every other part of the bot; SQLite for the embedded default."""

    def __init__(self, url: str, sealer: Sealer | None = None) -> None:
        self.url = url  # with PostgreSQL's password: never log it (self.engine.url hides it)
        self.dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        self.sealer = sealer
        if url.startswith("sqlite:///") and ":memory:" not in url:
            _create_private(Path(url.removeprefix("sqlite:///")))
        # A server database: a connection dropped by a fail-over or an idle timeout is replaced
        # before use rather than failing the next unit of work.
        self.engine: Engine = create_engine(url, pool_pre_ping=self.dialect == "postgresql")
        self._current: Connection | None = None
        self._batch: Connection | None = None
        self._pending = PendingRows()  # the open batch's held rows
        self._spoiled = False  # a unit of the open batch failed: the batch rolls back whole
        # A full disk, a read-only or a corrupt database: one line naming it, which no retry mends.
        event.listen(self.engine, "handle_error", self._storage_error)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented
            # remedy: let SQLAlchemy emit BEGIN itself.
            event.listen(self.engine, "begin", _sqlite_begin)
            if sealer is not None:
                # A row rewritten sealed, or purged, leaves no readable copy in a freed page.
                event.listen(self.engine, "connect", _sqlite_secure_delete)

    def _storage_error(self, context: ExceptionContext) -> None:
        line = storage_fault(context.original_exception, self.url)
        if line is not None:
            raise StorageError(line) from context.original_exception

    def migrate(self, now: datetime | None = None) -> str:
        """Bring the schema to the newest Alembic revision, in one transaction; that revision."""
        from bot.adapters import sql_migrations as migrations  # Alembic: only to change the schema

        with self.engine.begin() as conn:
            return migrations.upgrade(conn)

    def check_schema(self) -> str:
        """At start: a new database is created; one older or newer than this code is refused.

        One at the newest revision is known by one SELECT (``sql_head``), without importing Alembic.
        """
        with self.engine.begin() as conn:
            if at_head(conn):
                return HEAD
            from bot.adapters import sql_migrations as migrations

            return migrations.check(conn)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """A unit of work; adapters sharing this database (the local calendar) join it.

        Inside a ``batch`` it is no savepoint (issue 18: a savepoint and its release cost more
        than the unit's own writes): it becomes durable when the batch commits, and a unit that
        raises spoils the batch (``BatchSpoiled``, see ``_in_batch``).
        """
        if self._current is not None:
            raise RuntimeError("a store transaction is already open; units of work do not nest")
        if self._batch is not None:
            with self._in_batch(self._batch) as tx:
                yield tx
            return
        with self.engine.begin() as conn:
            self._current = conn
            pending = PendingRows()
            try:
                yield SqlTransaction(conn, self.sealer, pending)
                pending.flush(conn)
            finally:
                self._current = None

    @contextmanager
    def _in_batch(self, conn: Connection) -> Iterator[SqlTransaction]:
        """A unit of work inside the open batch.

        A failure leaves what the unit wrote before it in the batch: the batch is spoiled,
        rolled back whole when it ends, and refuses any further unit. The failure comes out as
        ``BatchSpoiled`` (from it), for the caller to do the batch's work again unit by unit;
        a storage fault and a lost lease come out as themselves, keeping their meaning. On
        SQLite a unit that failed before changing any row (mail from an untrusted sender,
        quarantined after reading only) leaves nothing to undo: its failure comes out as itself
        and the batch goes on.
        """
        if self._spoiled:
            raise BatchSpoiled("an earlier unit of work in this batch failed; the batch is rolled back")
        self._current = conn
        before = self._written(conn)
        try:
            yield SqlTransaction(conn, self.sealer, self._pending)
        except (StorageError, StopActing):
            self._spoiled = True
            raise
        except Exception as exc:
            if before is not None and self._written(conn) == before:
                raise  # it changed no row (a message refused after reading only): nothing to undo
            self._spoiled = True
            raise BatchSpoiled(f"a unit of work in the batch failed ({type(exc).__name__})") from exc
        except BaseException:
            self._spoiled = True
            raise
        finally:
            self._current = None

    def _written(self, conn: Connection) -> int | None:
        """How many rows the open batch has written or holds to write; None where it cannot be known.

        SQLite counts the rows each connection changed (``total_changes``; a failed statement's
        are undone and not counted); a held row counts once, held or written. PostgreSQL
        has no such count: there a failed unit always spoils its batch.
        """
        if self.dialect != "sqlite":
            return None
        changed: int = conn.connection.driver_connection.total_changes  # type: ignore[union-attr]
        return changed + len(self._pending)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: the units of work inside commit together, with one flush to disk.

        Callers act on the outcome (moving mail out of the inbox) only after the batch
        has committed; a crash before then leaves every message of the batch in the inbox,
        to be recognised by its Message-ID. A unit that failed inside spoils the batch: it
        is rolled back whole (``BatchSpoiled`` even when the caller let the unit's error pass).
        """
        if self._batch is not None or self._current is not None:
            raise RuntimeError("batches do not nest")
        with self.engine.begin() as conn:
            self._batch, self._spoiled = conn, False
            self._pending.drop()
            try:
                yield
                if self._spoiled:
                    raise BatchSpoiled("a unit of work in this batch failed; the batch is rolled back")
                self._pending.flush(conn)
            finally:
                self._batch, self._spoiled = None, False
                self._pending.drop()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """The open unit of work's connection, or a short transaction of its own."""
        if self._current is not None:
            yield self._current
            return
        with self.engine.begin() as conn:
            yield conn

    def get_state(self, key: str) -> str | None:
        with self.connection() as conn:
            value = conn.execute(select(t.adapter_state.c.value).where(t.adapter_state.c.key == key)).scalar()
        return None if value is None else str(value)

    def put_state(self, key: str, value: str, now: datetime) -> None:
        row = {"value": value, "updated_at": utc_text(now)}
        with self.connection() as conn:
            done = conn.execute(update(t.adapter_state).where(t.adapter_state.c.key == key).values(**row))
            if not done.rowcount:
                conn.execute(insert(t.adapter_state).values(key=key, **row))

    def dispose(self) -> None:
        self.engine.dispose()


# mypy proves here that the SQL store is the Store port the service is written to; a method
# that drifts from the port fails the type check, not a run.
_IS_A_STORE: type[Store] = SqlStore
_HOLDS_TIMERS: type[HeldTimers] = SqlTransaction  # the daemon's units hold new timers for the batch


def _create_private(path: Path) -> None:
    """A new database file readable by the bot's user only (0600), in a folder of its own (0700).

    SQLite gives its -wal and -shm files the database file's mode.
    """
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_secure_delete(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets `status` read while the daemon writes; FULL makes each commit durable
    # before the message is moved out of the inbox.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
