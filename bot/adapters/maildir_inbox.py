"""The referral inbox as a local Maildir, with Maildir++ sub-folders for handled messages."""

from __future__ import annotations

import logging
import mailbox
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.maildir_quarantine import MaildirQuarantine
from bot.config import ConfigError, InboxConfig
from bot.errors import TransientError
from bot.ports import Folder, IncomingMail

log = logging.getLogger(__name__)

# Enough for any sane header block; a message whose headers are longer is cut at a line end.
HEADERS_LIMIT = 64 * 1024
_INFO_SEPARATOR = ":"  # Maildir on POSIX; the bot does not run on Windows


@dataclass(frozen=True)
class _Entry:
    key: str
    path: Path
    size: int
    mtime_ns: int


def _unique_part(name: str) -> str:
    """The Maildir key: the file name without its ``:2,FLAGS`` info."""
    return name.split(_INFO_SEPARATOR, 1)[0]


def _utc(mtime_ns: int) -> datetime:
    """A file time as an aware UTC datetime, to the microsecond (a float would round it)."""
    seconds, nanos = divmod(mtime_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)


def fsync_dir(path: Path) -> None:
    """Make a rename into ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_headers(path: Path) -> bytes:
    """The header block of the message at ``path``, blank line included, reading 64 KiB at most."""
    with path.open("rb") as f:
        head = f.read(HEADERS_LIMIT)
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := head.find(sep)) >= 0]
    if ends:
        return head[: min(ends)]
    # No end of headers within the limit: keep whole lines so no header is cut in half.
    last = head.rfind(b"\n")
    return head[: last + 1] if last >= 0 else b""


class MaildirInbox:
    """The ``Inbox`` port on a Maildir: messages in ``new/`` and ``cur/`` are pending.

    ``pending()`` never marks or moves anything, so a crash at any point leaves every
    unhandled message where the MTA put it. Only ``move`` takes a message out, by an
    atomic rename into the folder's ``cur/``; the service calls it after committing.

    A message larger than ``max_message_bytes`` is not read into memory: ``pending()``
    yields it with ``oversized=True`` and ``raw`` holding only its header block (up to
    the first blank line, at most 64 KiB), enough for the service to log its Message-ID
    and quarantine it. ``size(key)`` gives its full size.
    """

    def __init__(
        self,
        path: Path,
        processed_folder: str,
        quarantine_folder: str,
        triage_folder: str,
        max_message_bytes: int,
        poll_seconds: float,
    ) -> None:
        self.path = path
        self.max_message_bytes = max_message_bytes
        self.poll_seconds = poll_seconds
        self.folders = {
            Folder.PROCESSED: processed_folder,
            Folder.QUARANTINE: quarantine_folder,
            Folder.TRIAGE: triage_folder,
        }
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # The stdlib makes the standard layout (tmp/new/cur, ".Name" folders, the
            # maildirfolder marker) so that mail clients and Dovecot read it as we do.
            box = mailbox.Maildir(path, factory=None, create=True)
            existing = set(box.list_folders())
            for name in self.folders.values():
                if name not in existing:
                    box.add_folder(name)
        except OSError as exc:
            # Only at start-up, and only an admin can fix it: report it as the setting it is.
            raise ConfigError(f"inbox.path: cannot create the Maildir at {path}: {exc}") from exc
        self._new = path / "new"
        self._cur = path / "cur"
        self._tmp = path / "tmp"
        self._paths: dict[str, Path] = {}  # where pending() last saw each key
        self._new_mtime_seen: int | None = None

    @classmethod
    def from_config(cls, cfg: InboxConfig) -> MaildirInbox:
        return cls(
            cfg.path,
            processed_folder=cfg.processed_folder,
            quarantine_folder=cfg.quarantine_folder,
            triage_folder=cfg.triage_folder,
            max_message_bytes=cfg.max_message_bytes,
            poll_seconds=cfg.poll_seconds,
        )

    def folder_path(self, folder: Folder) -> Path:
        """The Maildir++ folder (``<root>/.<Name>``) a handled message is moved to."""
        return self.path / f".{self.folders[folder]}"

    def quarantine_folder(self) -> MaildirQuarantine:
        """The quarantine folder, for the `quarantine` command (the ``HasQuarantine`` port)."""
        return MaildirQuarantine(self.folder_path(Folder.QUARANTINE), self.path)

    # -- reading ----------------------------------------------------------------------------

    def _listing(self) -> list[_Entry]:
        entries: list[_Entry] = []
        for sub in (self._new, self._cur):
            try:
                scan = os.scandir(sub)
            except OSError as exc:
                raise TransientError(f"cannot list the Maildir inbox {sub}: {exc}") from exc
            with scan:
                for entry in scan:
                    # Dot files are an MTA's or client's own business (Maildir spec).
                    if entry.name.startswith("."):
                        continue
                    try:
                        if not entry.is_file():
                            continue
                        st = entry.stat()
                    except FileNotFoundError:
                        continue  # moved away by someone else since the directory was read
                    entries.append(_Entry(_unique_part(entry.name), Path(entry.path), st.st_size, st.st_mtime_ns))
        entries.sort(key=lambda e: (e.mtime_ns, e.key))
        return entries

    def pending(self) -> Iterator[IncomingMail]:
        """The messages in the inbox root, oldest delivery first; each read only when reached."""
        try:
            self._new_mtime_seen = self._new.stat().st_mtime_ns
        except OSError as exc:
            raise TransientError(f"cannot read the Maildir inbox {self._new}: {exc}") from exc
        listing = self._listing()
        self._paths = {e.key: e.path for e in listing}
        for entry in listing:
            oversized = entry.size > self.max_message_bytes
            try:
                raw = _read_headers(entry.path) if oversized else entry.path.read_bytes()
            except FileNotFoundError:
                self._paths.pop(entry.key, None)
                continue
            except OSError as exc:
                raise TransientError(f"cannot read message {entry.key} in {self.path}: {exc}") from exc
            if oversized:
                log.warning("message %s is %d bytes, over the limit; headers only", entry.key, entry.size)
            received_at = _utc(entry.mtime_ns)
            yield IncomingMail(entry.key, raw, received_at, oversized=oversized)

    def _locate(self, key: str) -> Path | None:
        """Where the message with ``key`` is now in the inbox root, or None if it has left."""
        candidates = [self._paths.get(key), self._new / key]
        for path in candidates:
            if path is not None and path.exists():
                return path
        # A mail client may have moved it to cur/ and added flags since we listed it.
        try:
            with os.scandir(self._cur) as scan:
                for entry in scan:
                    if _unique_part(entry.name) == key:
                        return Path(entry.path)
        except OSError as exc:
            raise TransientError(f"cannot list the Maildir inbox {self._cur}: {exc}") from exc
        return None

    # -- moving -----------------------------------------------------------------------------

    def move(self, key: str, folder: Folder) -> None:
        """Rename the message into ``folder``'s ``cur/``; a message already gone is not an error.

        "Already gone" is the crash window between this rename and the caller's record of
        it: on restart the caller asks again, and the message is already where it should be.
        """
        target_dir = self.folder_path(folder) / "cur"
        if self._rename(key, folder):
            try:
                fsync_dir(target_dir)
            except OSError as exc:
                raise TransientError(f"cannot move message {key} to {target_dir}: {exc}") from exc

    def move_many(self, moves: list[tuple[str, Folder]]) -> None:
        """Move a committed batch: every rename, then one sync of each folder written to.

        A crash before the syncs leaves each message in the inbox or moved; one still in the
        inbox is seen again and recognised as a duplicate, as after a crash before ``move``.
        """
        written: set[Folder] = set()
        for key, folder in moves:
            if self._rename(key, folder):
                written.add(folder)
        for folder in sorted(written, key=lambda f: f.value):
            target_dir = self.folder_path(folder) / "cur"
            try:
                fsync_dir(target_dir)
            except OSError as exc:
                raise TransientError(f"cannot move messages to {target_dir}: {exc}") from exc

    def _rename(self, key: str, folder: Folder) -> bool:
        """Rename one message into ``folder``'s ``cur/``, unsynced; False when it had already left."""
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"not a Maildir key: {key!r}")
        target_dir = self.folder_path(folder) / "cur"
        try:
            source = self._locate(key)
            if source is None:
                log.info("message %s already moved out of the inbox", key)
                return False
            name = source.name if _INFO_SEPARATOR in source.name else f"{source.name}{_INFO_SEPARATOR}2,"
            target = target_dir / name
            if target.exists():
                # Two different messages with one name: never overwrite, that would lose one.
                suffix = uuid.uuid4().hex[:12]
                unique, _, info = name.partition(_INFO_SEPARATOR)
                target = target_dir / f"{unique}.{suffix}{_INFO_SEPARATOR}{info}"
            try:
                os.rename(source, target)
            except FileNotFoundError:
                if source.exists():
                    raise  # the folder itself is missing
                log.info("message %s already moved out of the inbox", key)
                return False
        except OSError as exc:
            raise TransientError(f"cannot move message {key} to {target_dir}: {exc}") from exc
        self._paths.pop(key, None)
        log.info("message %s moved to %s", key, self.folders[folder])
        return True

    # -- waiting ----------------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Return once ``new/`` changed since the last ``pending()``, or after ``timeout`` seconds.

        An MTA delivers by renaming into ``new/``, which changes the directory's mtime; polling
        that one ``stat`` is cheap and works on every filesystem, unlike inotify.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        baseline = self._new_mtime_seen
        if baseline is None:
            baseline = self._new_mtime()
        while True:
            current = self._new_mtime()
            if current != baseline:
                # Seen: the next wait returns only for a further change, not for this one again
                # (moves out of new/ while a batch drains change it too).
                self._new_mtime_seen = current
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_seconds, remaining))

    def _new_mtime(self) -> int | None:
        try:
            return self._new.stat().st_mtime_ns
        except OSError:
            return None  # let the next pending() report the problem

    def purge(self, before: datetime) -> int:
        """Delete handled mail delivered before ``before`` from the handled folders; returns how many.

        Mail still in the inbox is never purged: it has not been handled yet.
        """
        cutoff = before.timestamp()
        removed = 0
        for folder in Folder:
            for sub in ("cur", "new"):
                directory = self.folder_path(folder) / sub
                if not directory.is_dir():
                    continue
                for path in directory.iterdir():
                    try:
                        if path.is_file() and path.stat().st_mtime < cutoff:
                            path.unlink()
                            removed += 1
                    except FileNotFoundError:
                        continue
        return removed

    # -- delivering (tests, demo) -----------------------------------------------------------

    def deliver(self, raw: bytes) -> str:
        """Deliver ``raw`` as an MTA does (``tmp/``, then rename into ``new/``); returns its key."""
        now = time.time()
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        key = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}R{uuid.uuid4().hex[:16]}.{host}"
        tmp = self._tmp / key
        try:
            with tmp.open("xb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, self._new / key)
            fsync_dir(self._new)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TransientError(f"cannot deliver a message into {self.path}: {exc}") from exc
        return key
