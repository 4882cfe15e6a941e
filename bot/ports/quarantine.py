"""The quarantine folder as an administrator sees it: list, read, release and delete (issue 17 item 6).

An optional port: an inbox that can give its quarantine folder is ``HasQuarantine``. Each
item is named by an id the inbox chooses (a Maildir key, an IMAP UID) that stays the same
while the message sits in the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class QuarantinedMail:
    """One message in the quarantine folder: its id there, when the inbox received it, its headers."""

    id: str
    received_at: datetime  # aware
    headers: bytes  # the header block, up to the first blank line


class QuarantineFolder(Protocol):
    def quarantined(self) -> list[QuarantinedMail]:
        """Every message in the quarantine folder, oldest first."""
        ...

    def quarantined_message(self, item_id: str) -> bytes | None:
        """The whole message ``item_id``, or None when it is not in the folder."""
        ...

    def release(self, item_id: str) -> bool:
        """Move ``item_id`` back into the watched folder, to be handled at the next round; False if absent."""
        ...

    def delete(self, item_id: str) -> bool:
        """Remove ``item_id`` from the quarantine folder for good; False if absent."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class HasQuarantine(Protocol):
    """An inbox that knows its quarantine folder."""

    def quarantine_folder(self) -> QuarantineFolder: ...
