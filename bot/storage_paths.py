"""Every folder and file the configuration names: each must exist before `run`, made only by `strategy-bot init`.

A mistyped path must not become a new, empty folder that nobody delivers to, nor a new, empty
database that says "Open cases: 0". So `run`, `status`, `history` and `metrics` refuse what is
missing, naming the path and the command that creates it; `check-config` lists every one; and
`init` creates them, folders 0700 and the database 0600, saying what it made.
"""

from __future__ import annotations

import mailbox
import os
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.os_words import os_error_words
from bot.storage_faults import quick_check, sqlite_file


@dataclass(frozen=True)
class Needed:
    key: str  # the config key that names it
    what: str  # in words: "the Maildir inbox"
    path: Path
    kind: str  # "maildir", "folder" (a folder that must exist), "database"


def needed(config: Config) -> list[Needed]:
    """What this configuration needs on disk, in the order `init` makes it."""
    found: list[Needed] = []
    database = sqlite_file(config.store)
    if database is not None:
        found.append(Needed("store.path", "the database", database, "database"))
    if config.inbox.kind == "maildir":
        found.append(Needed("inbox.path", "the Maildir inbox", config.inbox.path, "maildir"))
    if config.sender.kind == "maildir":
        found.append(Needed("sender.path", "the Maildir for sent mail", config.sender.path, "maildir"))
    if config.calendar.kind == "local" and config.calendar.ics_path is not None:
        feed = config.calendar.ics_path.parent
        found.append(Needed("calendar.ics_path", "the calendar feed's folder", feed, "folder"))
    if config.metrics.textfile is not None:
        found.append(Needed("metrics.textfile", "the metrics file's folder", config.metrics.textfile.parent, "folder"))
    return found


def init_hint(config: Config) -> str:
    where = "" if config.source == "embedded default" else f" --config {config.source}"
    return f"strategy-bot init{where}"


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _not_writable(key: str, path: Path, what: str = "") -> str:
    """Why the bot may not write ``path``, in words: a read-only disk, or the file's permissions."""
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return f"{key}: {path} is on a read-only file system; remount it read-write (or check the disk: dmesg)"
    return f"{key}: permission denied on {path}{what}"


def problems(config: Config) -> list[str]:
    """One line for each folder or file that is missing, not what it should be, or not writable."""
    lines: list[str] = []
    for item in needed(config):
        try:
            line = _problem(item, init_hint(config))
        except OSError as exc:  # a folder above it the bot may not even look into
            line = f"{item.key}: {os_error_words(exc)}"
        if line is not None:
            lines.append(line)
    return lines


def _problem(item: Needed, hint: str) -> str | None:
    path = item.path
    missing = f"{item.key}: {item.what} {path} does not exist; check the path, or create it with `{hint}`"
    if item.kind == "database":
        if not path.exists():
            return missing
        if not path.is_file():
            return f"{item.key}: {item.what} {path} is not a file"
        if not _writable(path.parent) or not os.access(path, os.W_OK):
            return _not_writable(item.key, path, " (the bot writes the file and its folder)")
        return None
    if not path.exists():
        return missing
    if not path.is_dir():
        return f"{item.key}: {item.what} {path} is not a folder"
    if not _writable(path):
        return _not_writable(item.key, path)
    if item.kind == "maildir" and not all((path / sub).is_dir() for sub in ("new", "cur", "tmp")):
        return (
            f"{item.key}: {item.what} {path} is not a Maildir (no new/, cur/ and tmp/); "
            f"check the path, or create it with `{hint}`"
        )
    return None


def _make_folder(path: Path, made: list[str], what: str) -> None:
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
    if missing:
        made.append(f"created {what} {path} (mode 0700)")


def _make_maildir(path: Path, folders: tuple[str, ...], made: list[str], what: str) -> None:
    fresh = not path.exists()
    _make_folder(path.parent, made, "the folder")
    box = mailbox.Maildir(path, factory=None, create=True)  # tmp/, new/, cur/ at 0700
    os.chmod(path, 0o700)
    added = [name for name in folders if name not in set(box.list_folders())]
    for name in added:
        box.add_folder(name)
    subs = f" with {', '.join('.' + n for n in added)}" if added else ""
    if fresh:
        made.append(f"created {what} {path}{subs} (mode 0700)")
    elif added:
        made.append(f"created in {what} {path}: {', '.join('.' + n for n in added)}")


def create(config: Config) -> tuple[list[str], Path | None]:
    """Make every missing folder (0700); returns what was made and the database file still to create (0600)."""
    made: list[str] = []
    database: Path | None = None
    old = os.umask(0o077)
    try:
        for item in needed(config):
            if item.kind == "database":
                _make_folder(item.path.parent, made, "the data folder")
                if not item.path.exists():
                    # An empty file of the bot's user alone; SQLite gives its -wal and -shm the same mode.
                    os.close(os.open(item.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                    database = item.path
            elif item.kind == "maildir":
                inbox = config.inbox
                subfolders = (
                    (inbox.processed_folder, inbox.quarantine_folder, inbox.triage_folder)
                    if item.key == "inbox.path"
                    else ()
                )
                _make_maildir(item.path, subfolders, made, item.what)
            else:
                _make_folder(item.path, made, item.what)
    finally:
        os.umask(old)
    return made, database


def missing_database(config: Config) -> str | None:
    """For the read-only views: a database that is not there is refused, never created empty."""
    path = sqlite_file(config.store)
    if path is None or path.is_file():
        return None
    return f"the database {path} does not exist; check store.path, or create it with `{init_hint(config)}`"


def start_problems(config: Config) -> list[str]:
    """What `run` refuses to start on: a missing or unwritable path, and a database failing ``PRAGMA quick_check``."""
    lines = problems(config)
    database = sqlite_file(config.store)
    if database is not None and database.is_file():
        fault = quick_check(database)
        if fault is not None:
            lines.append(fault)
    return lines
