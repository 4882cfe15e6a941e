"""The IMAP inbox's quarantine folder for the `quarantine` command: its own short-lived connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientError

from bot.adapters.imap_connection import ImapServer, disconnect, text_of
from bot.adapters.imap_moves import _expunge_sparing_others, move_uids
from bot.errors import TransientError
from bot.ports.quarantine import QuarantinedMail


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


class ImapQuarantine:
    """The ``QuarantineFolder`` port on an IMAP folder; an item's id is its UID in that folder.

    Reads with ``BODY.PEEK`` (nothing is marked seen); a release is a ``UID MOVE`` (or copy and
    expunge) back into the watched folder, where the inbox finds it at its next round.
    """

    def __init__(self, server: ImapServer, folder: str, watched: str) -> None:
        self.server = server
        self.folder = folder
        self.watched = watched
        self._conn: IMAPClient | None = None

    def _client(self) -> IMAPClient:
        if self._conn is None:
            self._conn = self.server.connect()
        try:
            self._conn.select_folder(self.folder)
        except (IMAPClientError, OSError) as exc:
            raise TransientError(
                f"cannot open the folder {self.folder!r} on {self.server.where}: {text_of(exc)}"
            ) from exc
        return self._conn

    @staticmethod
    def _uid(item_id: str) -> int | None:
        text = item_id.strip()
        return int(text) if text.isdigit() else None

    def _held(self, item_id: str) -> tuple[IMAPClient, int] | None:
        """The connection and the UID of ``item_id`` if the folder holds it, else None."""
        client, uid = self._client(), self._uid(item_id)
        if uid is None or uid not in client.search(["UID", str(uid)]):
            return None
        return client, uid

    def quarantined(self) -> list[QuarantinedMail]:
        client = self._client()
        try:
            uids = sorted(client.search("ALL"))
            data = client.fetch(uids, ["INTERNALDATE", "BODY.PEEK[HEADER]"]) if uids else {}
        except (IMAPClientError, OSError) as exc:
            raise TransientError(f"cannot list {self.folder!r} on {self.server.where}: {text_of(exc)}") from exc
        items = [
            QuarantinedMail(
                str(uid), _aware(data[uid].get(b"INTERNALDATE")), bytes(data[uid].get(b"BODY[HEADER]", b""))
            )
            for uid in uids
            if uid in data
        ]
        return sorted(items, key=lambda item: (item.received_at, int(item.id)))

    def quarantined_message(self, item_id: str) -> bytes | None:
        client, uid = self._client(), self._uid(item_id)
        if uid is None:
            return None
        try:
            data = client.fetch([uid], ["BODY.PEEK[]"])
        except (IMAPClientError, OSError) as exc:
            raise TransientError(f"cannot read UID {uid} in {self.folder!r}: {text_of(exc)}") from exc
        raw = data.get(uid, {}).get(b"BODY[]")
        return bytes(raw) if raw is not None else None

    def release(self, item_id: str) -> bool:
        held = self._held(item_id)
        if held is None:
            return False
        client, uid = held
        try:
            move_uids(client, [uid], self.watched, self.folder)
        except (IMAPClientError, OSError) as exc:
            raise TransientError(f"cannot move UID {uid} back to {self.watched!r}: {text_of(exc)}") from exc
        return True

    def delete(self, item_id: str) -> bool:
        held = self._held(item_id)
        if held is None:
            return False
        client, uid = held
        try:
            if client.has_capability("UIDPLUS"):
                client.add_flags([uid], [DELETED])
                client.uid_expunge([uid])
            else:  # a plain EXPUNGE, sparing what others marked deleted there
                _expunge_sparing_others(client, [uid], self.folder)
        except (IMAPClientError, OSError) as exc:
            raise TransientError(f"cannot delete UID {uid} from {self.folder!r}: {text_of(exc)}") from exc
        return True

    def close(self) -> None:
        if self._conn is not None:
            disconnect(self._conn)
            self._conn = None
