"""A sender that delivers outgoing mail into a local Maildir, for the embedded default and tests."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.adapters.maildir_inbox import fsync_dir
from bot.errors import TransientError

log = logging.getLogger(__name__)

_TRUSTED_AFTER_NS = 1_000_000_000


class MaildirSender:
    """The ``MailSender`` port on a Maildir: each email becomes one file in ``new/``, unchanged.

    The file is named from a hash of the Message-ID, so a resend after a crash (sent, but
    not yet marked sent) finds the earlier file and adds nothing. The envelope is not
    recorded: the message is stored exactly as rendered.

    Inside ``batch()`` (the outbox's delivery round) the ``new/`` directory is synced once
    when the batch ends instead of after each file; each file's own data is synced as it is
    written. Whether an email is there already is answered from ``new/`` and a listing of
    ``cur/`` kept while ``cur/`` does not change (a mail client moving files changes it),
    not from a scan of ``cur/`` per email.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._batched = False
        self._unsynced = False  # a file linked into new/ since the directory was last synced
        self._cur_names: set[str] = set()
        self._cur_mtime: int | None = None

    @staticmethod
    def file_name(message_id: str) -> str:
        """The Maildir file name (and key) that the email with ``message_id`` is delivered as."""
        digest = hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()
        return f"{digest}.strategy-bot"

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        name = self.file_name(message_id)
        try:
            self._make_dirs()
            if self._delivered(name):
                log.info("email %s already in %s; not written again", message_id, self.path)
                return
            # Maildir delivery as qmail defines it: write and fsync in tmp/, then link into
            # new/. Unlike rename, link refuses to replace an existing file, so two
            # concurrent sends of one Message-ID still leave a single file.
            tmp = self.path / "tmp" / f"{name}.{uuid.uuid4().hex}"
            try:
                with tmp.open("xb") as f:
                    f.write(raw)
                    f.flush()
                    os.fsync(f.fileno())
                try:
                    os.link(tmp, self.path / "new" / name)
                except FileExistsError:
                    log.info("email %s already in %s; not written again", message_id, self.path)
                    return
            finally:
                tmp.unlink(missing_ok=True)
            self._unsynced = True
            if not self._batched:
                self._sync()
        except OSError as exc:
            self._ready = False  # the folder may have been removed; make it again next time
            raise TransientError(f"cannot write email {message_id} to the Maildir {self.path}: {exc}") from exc

    def _make_dirs(self) -> None:
        if self._ready:
            return
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)  # sent mail: the bot's user only
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._ready = True

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Deliveries inside become durable together, with one sync of ``new/``, when it exits."""
        self._batched = True
        try:
            yield
            self._sync()
        except OSError as exc:
            self._ready = False
            raise TransientError(f"cannot sync the Maildir {self.path}: {exc}") from exc
        finally:
            self._batched = False

    def _sync(self) -> None:
        if self._unsynced:
            fsync_dir(self.path / "new")
            self._unsynced = False

    def _delivered(self, name: str) -> bool:
        if (self.path / "new" / name).exists():
            return True
        # A mail client reading the folder moves files to cur/ and appends ":2,FLAGS".
        mtime = (self.path / "cur").stat().st_mtime_ns
        if mtime != self._cur_mtime:
            scanned_at = time.time_ns()
            with os.scandir(self.path / "cur") as scan:
                self._cur_names = {entry.name.split(":", 1)[0] for entry in scan}
            # A change within a second of the scan may share its mtime (the clock's grain):
            # such a listing is not trusted, and the next look scans again (as git's index does).
            self._cur_mtime = mtime if scanned_at - mtime > _TRUSTED_AFTER_NS else None
        return name in self._cur_names

    def close(self) -> None:
        """Nothing to release; present so callers can close any sender alike."""
