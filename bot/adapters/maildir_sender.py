"""A sender that delivers outgoing mail into a local Maildir, for the embedded default and tests."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from bot.adapters.maildir_inbox import fsync_dir
from bot.errors import TransientError

log = logging.getLogger(__name__)

_TRUSTED_AFTER_NS = 1_000_000_000
# Files held open in tmp/ by a batch before they are synced and linked into new/ (a batch of
# ``sender.batch_size`` larger than this is delivered in parts, within the process's open files).
_HOLD_AT_MOST = 128
# A file left in tmp/ this long is a delivery that will never finish (Maildir's rule).
_TMP_KEPT_SECONDS = 36 * 3600


def _syncfs_call() -> Callable[[int], int] | None:
    """Linux's syncfs(2), where it reports write-back errors (5.8 and later); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (ValueError, OSError, AttributeError):
        return None
    if (major, minor) < (5, 8):
        return None  # older kernels return 0 even when a write-back failed
    call.argtypes = [ctypes.c_int]
    call.restype = ctypes.c_int
    return cast(Callable[[int], int], call)


_SYNCFS = _syncfs_call()


@dataclass
class _Held:
    """An email written to tmp/ in a batch, not yet synced: linked into new/ when the batch ends."""

    fd: int
    tmp: str
    name: str
    message_id: str


class MaildirSender:
    """The ``MailSender`` port on a Maildir: each email becomes one file in ``new/``, unchanged.

    The file is named from a hash of the Message-ID, so a resend after a crash (sent, but
    not yet marked sent) finds the earlier file and adds nothing. The envelope is not
    recorded: the message is stored exactly as rendered.

    Each email is written to ``tmp/``, its data synced, and only then linked into ``new/``
    (so a file in ``new/`` is always whole). Inside ``batch()`` (the outbox's delivery round)
    the files are written as the emails come and synced, linked and the ``new/`` directory
    synced once, together, when the batch ends; the caller records them sent only after that.
    Whether an email is there already is answered from a listing of ``cur/`` kept while
    ``cur/`` does not change (a mail client moving files changes it; looked at once a batch),
    and from ``new/`` by the link itself, which refuses to replace a file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = str(path / "tmp")
        self._new = str(path / "new")
        self._cur = str(path / "cur")
        self._ready = False
        self._swept = False  # tmp/ cleared of the files a crash left (at the first delivery)
        self._held: list[_Held] | None = None  # inside a batch: the emails written, not yet linked
        self._cur_seen = False  # cur/ looked at since the batch began
        self._new_fd: int | None = None  # new/, open while a batch has written files
        self._cur_names: set[str] = set()
        self._cur_mtime: int | None = None
        # tmp/ names unique to this sender: no random number drawn per email.
        self._token = uuid.uuid4().hex[:12]
        self._written = 0

    @staticmethod
    def file_name(message_id: str) -> str:
        """The Maildir file name (and key) that the email with ``message_id`` is delivered as."""
        digest = hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()
        return f"{digest}.strategy-bot"

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        name = self.file_name(message_id)
        try:
            self._make_dirs()
            if self._held is not None:
                self._hold(message_id, name, raw)
                return
            if os.path.lexists(f"{self._new}/{name}") or self._in_cur(name):
                log.info("email %s already in %s; not written again", message_id, self.path)
                return
            # Maildir delivery as qmail defines it: write and fsync in tmp/, then link into
            # new/. Unlike rename, link refuses to replace an existing file, so two
            # concurrent sends of one Message-ID still leave a single file.
            fd, tmp = self._write(name, raw)
            try:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if not self._link(tmp, name, message_id):
                    return
            finally:
                _unlink(tmp)
            fsync_dir(Path(self._new))
        except OSError as exc:
            self._ready = False  # the folder may have been removed; make it again next time
            raise TransientError(f"cannot write email {message_id} to the Maildir {self.path}: {exc}") from exc

    def _make_dirs(self) -> None:
        if self._ready:
            return
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)  # sent mail: the bot's user only
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self._swept:
            self._sweep_tmp()
        self._ready = True

    def _sweep_tmp(self) -> None:
        """At the first delivery: emails a crash left in tmp/ (written in a batch, never linked) are removed.

        They hold personal data that no purge would reach; as Maildir asks, only those older
        than 36 hours, so that no other process's delivery in progress is touched.
        """
        self._swept = True
        old = time.time() - _TMP_KEPT_SECONDS
        with os.scandir(self._tmp) as scan:
            for entry in scan:
                with suppress(OSError):  # (gone already, or not ours to remove)
                    if ".strategy-bot." in entry.name and entry.stat().st_mtime < old:
                        os.unlink(entry.path)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Deliveries inside are written as they come and become durable together when it exits.

        Left by an exception, the emails written inside are dropped (their files in tmp/
        removed): the caller records none of them sent, and sends them again.
        """
        self._held, self._cur_seen = [], False
        try:
            yield
            self._deliver_held()
        except OSError as exc:
            self._ready = False
            raise TransientError(f"cannot deliver to the Maildir {self.path}: {exc}") from exc
        finally:
            held, self._held = self._held, None
            _drop(held)
            if self._new_fd is not None:
                fd, self._new_fd = self._new_fd, None
                with suppress(OSError):
                    os.close(fd)

    def _hold(self, message_id: str, name: str, raw: bytes) -> None:
        assert self._held is not None
        if self._in_cur(name):  # (one already in new/ is found by the link)
            log.info("email %s already in %s; not written again", message_id, self.path)
            return
        if len(self._held) >= _HOLD_AT_MOST:
            self._deliver_held()
        if self._new_fd is None:
            # Opened before the batch writes anything: syncfs reports the write-back errors
            # of the file system since the descriptor was opened.
            self._new_fd = os.open(self._new, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fd, tmp = self._write(name, raw)
        self._held.append(_Held(fd, tmp, name, message_id))

    def _deliver_held(self) -> None:
        """Sync the held files' data (one syncfs, else each file), then link each into new/ and sync new/."""
        held = self._held
        if not held or self._new_fd is None:
            return
        if _SYNCFS is not None:
            if _SYNCFS(self._new_fd) != 0:
                number = ctypes.get_errno()
                raise OSError(number, f"syncfs: {os.strerror(number)}")
        else:
            for h in held:
                os.fsync(h.fd)
        linked = False
        while held:
            h = held.pop(0)
            try:
                linked = self._link(h.tmp, h.name, h.message_id) or linked
            finally:
                _drop([h])
        if linked:
            os.fsync(self._new_fd)

    def _write(self, name: str, raw: bytes) -> tuple[int, str]:
        """``raw`` in a new file in tmp/, not yet synced: its descriptor (open) and path."""
        self._written += 1
        tmp = f"{self._tmp}/{name}.{self._token}.{self._written}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        return fd, tmp

    def _link(self, tmp: str, name: str, message_id: str) -> bool:
        """``tmp`` linked into new/ as ``name``; False when an email of that name is there already."""
        try:
            os.link(tmp, f"{self._new}/{name}")
        except FileExistsError:
            log.info("email %s already in %s; not written again", message_id, self.path)
            return False
        return True

    def _in_cur(self, name: str) -> bool:
        """Whether a mail client moved the email to cur/ (appending ":2,FLAGS" to its name)."""
        if self._held is None or not self._cur_seen:
            self._cur_seen = self._held is not None
            mtime = os.stat(self._cur).st_mtime_ns
            if mtime != self._cur_mtime:
                scanned_at = time.time_ns()
                with os.scandir(self._cur) as scan:
                    self._cur_names = {entry.name.split(":", 1)[0] for entry in scan}
                # A change within a second of the scan may share its mtime (the clock's grain):
                # such a listing is not trusted, and the next look scans again (as git's index does).
                self._cur_mtime = mtime if scanned_at - mtime > _TRUSTED_AFTER_NS else None
        return name in self._cur_names

    def close(self) -> None:
        """Nothing to release; present so callers can close any sender alike."""


def _unlink(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _drop(held: list[_Held] | None) -> None:
    """Close the held files and remove them from tmp/ (each linked into new/ already, or given up)."""
    for h in held or ():
        try:
            os.close(h.fd)
            os.unlink(h.tmp)
        except OSError:
            pass  # a folder removed under the bot: made again, and the email sent again, next round
