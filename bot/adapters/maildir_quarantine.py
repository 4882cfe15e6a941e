"""The Maildir inbox's quarantine folder (``<inbox>/.Quarantine``) for the `quarantine` command."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bot.ports.quarantine import QuarantinedMail

_INFO_SEPARATOR = ":"


def _key(name: str) -> str:
    return name.split(_INFO_SEPARATOR, 1)[0]


def _headers(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := head.find(sep)) >= 0]
    return head[: min(ends)] if ends else head


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaildirQuarantine:
    """The ``QuarantineFolder`` port on a Maildir++ folder; an item's id is its Maildir key.

    An id may be shortened to any prefix that names one message only.
    """

    def __init__(self, folder: Path, inbox_root: Path) -> None:
        self.folder = folder
        self.inbox_root = inbox_root

    def _files(self) -> list[Path]:
        found = []
        for sub in ("new", "cur"):
            directory = self.folder / sub
            if directory.is_dir():
                found += [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")]
        return found

    def _find(self, item_id: str) -> Path | None:
        wanted = item_id.strip()
        if not wanted or "/" in wanted:
            return None
        matches = [p for p in self._files() if _key(p.name).startswith(wanted)]
        exact = [p for p in matches if _key(p.name) == wanted]
        if exact:
            return exact[0]
        return matches[0] if len(matches) == 1 else None

    def quarantined(self) -> list[QuarantinedMail]:
        items = []
        for path in self._files():
            try:
                stat = path.stat()
                items.append(
                    QuarantinedMail(_key(path.name), datetime.fromtimestamp(stat.st_mtime, UTC), _headers(path))
                )
            except FileNotFoundError:
                continue  # moved by someone else since the listing
        return sorted(items, key=lambda item: (item.received_at, item.id))

    def quarantined_message(self, item_id: str) -> bytes | None:
        path = self._find(item_id)
        return path.read_bytes() if path is not None else None

    def release(self, item_id: str) -> bool:
        """Renamed into the inbox's ``new/`` under its own key: the next round reads it as new mail."""
        path = self._find(item_id)
        if path is None:
            return False
        target_dir = self.inbox_root / "new"
        os.rename(path, target_dir / _key(path.name))
        _fsync_dir(target_dir)
        return True

    def delete(self, item_id: str) -> bool:
        path = self._find(item_id)
        if path is None:
            return False
        path.unlink()
        _fsync_dir(path.parent)
        return True

    def close(self) -> None:
        return None
