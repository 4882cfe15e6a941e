"""A sender that delivers outgoing mail into a local Maildir, for the embedded default and tests."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from bot.adapters.maildir_inbox import fsync_dir
from bot.errors import TransientError

log = logging.getLogger(__name__)


class MaildirSender:
    """The ``MailSender`` port on a Maildir: each email becomes one file in ``new/``, unchanged.

    The file is named from a hash of the Message-ID, so a resend after a crash (sent, but
    not yet marked sent) finds the earlier file and adds nothing. The envelope is not
    recorded: the message is stored exactly as rendered.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

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
            fsync_dir(self.path / "new")
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

    def _delivered(self, name: str) -> bool:
        if (self.path / "new" / name).exists():
            return True
        # A mail client reading the folder moves files to cur/ and appends ":2,FLAGS".
        with os.scandir(self.path / "cur") as scan:
            return any(entry.name.split(":", 1)[0] == name for entry in scan)

    def close(self) -> None:
        """Nothing to release; present so callers can close any sender alike."""
