"""Storage faults in words: a full disk, a read-only or corrupt database, a missing file, each naming the path.

A storage fault does not mend by retrying: the daemon stops with one line and a non-zero exit
so that its supervisor restarts it and the operator sees it, and every command says the same
line instead of a traceback. ``quick_check`` runs SQLite's ``PRAGMA quick_check`` at start-up.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import StorageError
from bot.os_words import os_error_words

if TYPE_CHECKING:
    from bot.config.schema import StoreConfig

RESTORE = "restore from backup, see docs/operations.md"

# OSErrors on a file that a retry will not mend.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}


# Storage the bot cannot work on; ``str()`` is the one line the operator reads.
StorageFault = StorageError


def database_where(url: str) -> str:
    """What names the database in a message: the SQLite file, or the server URL without its password."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    if url.startswith("sqlite:"):
        return "the in-memory database"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL that does not parse is still named, less its credentials
        return url.split("@")[-1]


def sqlite_path(url: str) -> Path | None:
    """The SQLite file a store URL names, or None for another database or an in-memory one."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return Path(path) if path and path != ":memory:" else None


def sqlite_file(store: StoreConfig) -> Path | None:
    """The SQLite file a store configuration uses; None for PostgreSQL (whose ``url`` is unused)."""
    return sqlite_path(store.url) if store.kind == "sqlite" else None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what SQLAlchemy wraps (``orig``), and its causes, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]
    return seen


def _database_words(exc: BaseException, where: str) -> str | None:
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if name == "SQLITE_FULL" or "disk is full" in text:
            return f"the disk holding the database {where} is full: free space there, then start the bot again"
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return (
                f"the database {where} is read-only: make it and its folder writable by the bot's user "
                "(and the disk mounted read-write)"
            )
        corrupt = name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"
        if corrupt or "malformed" in text or "not a database" in text:
            return f"the database {where}: database disk image is malformed: {RESTORE}"
        if name.startswith("SQLITE_CANTOPEN") or "unable to open database" in text:
            return f"cannot open the database {where}: check that it exists and the bot's user may write its folder"
        if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
            return f"disk I/O error on the database {where}: check the disk; if the file is damaged, {RESTORE}"
        return None
    state = getattr(exc, "sqlstate", None)  # PostgreSQL (psycopg)
    if isinstance(state, str):
        if state == "53100":
            return f"the disk of the database server {where} is full: free space there, then start the bot again"
        if state == "25006":
            return f"the database {where} is read-only (a standby?): point store at the primary"
        if state in ("XX001", "XX002"):
            return f"the database {where} reports corrupt data: {RESTORE}"
    return None


def storage_fault(exc: BaseException, database_url: str | None) -> str | None:
    """One line naming the path when ``exc`` is a storage fault (stop, do not retry); else None."""
    where = database_where(database_url) if database_url else "the database"
    for item in _chain(exc):
        if isinstance(item, StorageFault):
            return str(item)
        words = _database_words(item, where)
        if words is not None:
            return words
        if isinstance(item, OSError) and item.filename is not None and item.errno in _STORAGE_ERRNOS:
            if item.errno in (errno.ENOSPC, errno.EDQUOT):
                return f"the disk is full: {os_error_words(item)}: free space there, then start the bot again"
            return os_error_words(item)
    return None


def quick_check(path: Path) -> str | None:
    """SQLite's ``PRAGMA quick_check`` on the file at ``path``: None when sound, else one line saying what to do."""
    where = str(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return _database_words(exc, where) or f"cannot open the database {where}: {exc}"
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        return _database_words(exc, where) or f"the database {where} cannot be checked: {exc}"
    finally:
        conn.close()
    if [tuple(row) for row in rows] == [("ok",)]:
        return None
    return f"the database {where}: database disk image is malformed ({len(rows)} problems found): {RESTORE}"
