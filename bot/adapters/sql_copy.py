"""Moving a deployment from SQLite onto PostgreSQL (``strategy-bot migrate --from-sqlite FILE``): every row, counted.

The SQLite file is read through a copy (SQLite's online backup), brought to the newest revision
there, and never written to. The PostgreSQL database must be empty (made by the migrations, no
row in any table). Every table is copied in one transaction, row ids included (so a timer's,
an email's or a case's row keeps its number), the history by INSERTs (its trigger allows those),
then each id sequence is set past the highest id copied. The counts of both sides are compared
before the commit: any difference rolls the whole copy back. Sealed columns are copied as they
are: the instances reading PostgreSQL need the same privacy.key_env key.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Integer, Table, func, insert, select, text

from bot.adapters import sql_migrations as migrations
from bot.adapters import sql_schema as t
from bot.adapters.sql_store import SqlStore
from bot.errors import PermanentError

_CHUNK = 500


class CopyRefused(PermanentError):
    """The copy was not made (or was rolled back); the message says why and what to do."""


def copied_tables() -> list[Table]:
    """Every table of the bot, in an order that satisfies any reference between them."""
    return [table for table in t.metadata.sorted_tables if table.name != t.schema_version.name]


@contextmanager
def sqlite_snapshot(path: Path) -> Iterator[SqlStore]:
    """A private copy of the SQLite file, at the newest revision; the file itself is only read."""
    if not path.is_file():
        raise CopyRefused(f"no SQLite database at {path}")
    with tempfile.TemporaryDirectory(prefix="strategy-bot-copy-") as folder:
        copy = Path(folder) / "source.sqlite3"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as source, sqlite3.connect(copy) as target:
            source.backup(target)  # consistent even while a daemon writes to it
        source.close()
        target.close()
        store = SqlStore(f"sqlite:///{copy}")
        try:
            store.migrate()
            yield store
        finally:
            store.dispose()


def counts(conn: Connection) -> dict[str, int]:
    return {
        table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one()) for table in copied_tables()
    }


def copy_rows(source: Connection, target: Connection) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target`` (one open transaction); the counts."""
    already = {name: n for name, n in counts(target).items() if n}
    if already:
        listed = ", ".join(f"{n} {name}" for name, n in sorted(already.items()))
        raise CopyRefused(f"the PostgreSQL database is not empty ({listed}); copy only into a new, empty database")
    for table in copied_tables():
        rows = source.execution_options(yield_per=_CHUNK).execute(select(table))
        for chunk in rows.mappings().partitions(_CHUNK):
            target.execute(insert(table), [dict(row) for row in chunk])
        _restart_ids(target, table)
    expected, got = counts(source), counts(target)
    if expected != got:
        differ = ", ".join(
            f"{name}: {expected[name]} read, {got[name]} written" for name in expected if expected[name] != got[name]
        )
        raise CopyRefused(f"the counts differ after the copy ({differ}); nothing was kept")
    return got


def _restart_ids(target: Connection, table: Table) -> None:
    """Set an id sequence past the highest id copied, so the next row made gets a new number."""
    keys = list(table.primary_key.columns)
    if target.dialect.name != "postgresql" or len(keys) != 1 or not isinstance(keys[0].type, Integer):
        return
    name = keys[0].name
    target.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:table, :column), "
            f"COALESCE(MAX({name}), 1), MAX({name}) IS NOT NULL) FROM {table.name}"
        ),
        {"table": table.name, "column": name},
    )


def copy_sqlite_into(path: Path, target: SqlStore) -> dict[str, int]:
    """The whole move: the target migrated, every row copied and counted, committed at once or not at all."""
    if target.dialect != "postgresql":
        raise CopyRefused('--from-sqlite copies into PostgreSQL: set [store] kind = "postgresql" in the config')
    with sqlite_snapshot(path) as source, source.engine.connect() as reading, target.engine.begin() as writing:
        migrations.upgrade(writing)
        return copy_rows(reading, writing)
