"""The referral inbox on a folder of an Exchange Server mailbox through EWS (exchangelib 5), polled.

Every server call goes through ``EwsMailbox.call`` (bot/adapters/ews_connection.py): bounded
waits for a busy server, errors in words. Logs carry item ids, counts and folder names, never
subjects, bodies or addresses of people.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from exchangelib.errors import ErrorFolderNotFound, ErrorInvalidIdMalformed, ErrorItemNotFound, ErrorToFolderNotFound
from exchangelib.folders import Folder as EwsFolder
from exchangelib.services import CreateFolder

from bot.adapters.ews_connection import EwsMailbox, is_gone
from bot.adapters.ews_folders import child_folder
from bot.adapters.ews_times import aware
from bot.config import EwsConfig, InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import AdapterState, Folder, IncomingMail, handled_folders

log = logging.getLogger(__name__)

# Messages fetched in one GetItem: enough to move a backlog, small enough for memory.
FETCH_CHUNK = 10


class EwsInbox:
    """The ``Inbox`` port on a folder of the referral mailbox.

    The folder is listed afresh on every ``pending()`` (FindItem, oldest first), so a message
    offered but not moved before a restart is offered again: nothing is kept in
    ``AdapterState``. A message's key is its EWS item id, good until it is moved.

    No move can lose mail. The handled folders are looked up afresh each round (a person may
    have deleted one into Deleted Items, or made it again), and made when missing. A move
    answered "not found" is checked: when the message is still in the watched folder it is
    the folder that is gone, so every cached folder id is dropped and the move fails as
    transient; the message stays where it is, offered again, and is moved on the next round.
    """

    def __init__(
        self,
        ews_cfg: EwsConfig,
        inbox_cfg: InboxConfig,
        state: AdapterState | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cfg = inbox_cfg
        self.state = state
        self.sleep = sleep
        self.mailbox = EwsMailbox(ews_cfg, ews_cfg.mailbox, "referral mailbox", sleep, now)
        self.names = handled_folders(inbox_cfg)
        self._watched: Any = None
        self._watched_parent: Any = None
        self._handled: dict[Folder, Any] = {}

    @classmethod
    def from_config(cls, ews_cfg: EwsConfig, inbox_cfg: InboxConfig, state: AdapterState) -> EwsInbox:
        return cls(ews_cfg, inbox_cfg, state)

    # -- folders

    def _watched_folder(self, account: Any) -> Any:
        """The watched folder: the Inbox, a folder under Top of Information Store, or a path (``Inbox/Referrals``)."""
        if self._watched is None:
            parts = [part.strip() for part in self.cfg.folder.split("/") if part.strip()]
            parent: Any = None
            found: Any = None
            for depth, name in enumerate(parts):
                if depth == 0 and name.casefold() == "inbox":
                    parent, found = account.msg_folder_root, account.inbox
                    continue
                parent = account.msg_folder_root if found is None else found
                found = child_folder(parent, name)
                if found is None:
                    break
            if found is None:
                raise PermanentError(
                    f"the watched folder {self.cfg.folder!r} does not exist in the referral mailbox "
                    f"{self.mailbox.address}"
                )
            self._watched, self._watched_parent = found, parent
        return self._watched

    def _handled_folder(self, account: Any, folder: Folder) -> Any:
        """The handled folder beside the watched one, made the first time it is needed."""
        if folder not in self._handled:
            name = self.names[folder]
            self._watched_folder(account)
            parent = self._watched_parent
            found = child_folder(parent, name)
            if found is None:
                [made] = CreateFolder(account=account).call(
                    parent_folder=parent, folders=[EwsFolder(parent=parent, name=name)]
                )
                if isinstance(made, Exception):
                    raise made
                found = made
                log.info("created the folder %s in the referral mailbox", name)
            self._handled[folder] = found
        return self._handled[folder]

    # -- the port

    def _forget_folders(self) -> None:
        """Drop every cached folder id: the next call finds (or makes) the folders again."""
        self._watched, self._watched_parent, self._handled = None, None, {}

    def pending(self) -> Iterator[IncomingMail]:
        self._handled = {}  # looked up again on this round's first move into each
        listed: list[Any] = self.mailbox.call("listing the watched folder", self._list)
        for start in range(0, len(listed), FETCH_CHUNK):
            chunk = listed[start : start + FETCH_CHUNK]
            small = [i for i in chunk if (i.size or 0) <= self.cfg.max_message_bytes]
            large = [i for i in chunk if (i.size or 0) > self.cfg.max_message_bytes]
            raw: dict[str, bytes] = {}
            if small:
                raw.update(self.mailbox.call("fetching messages", partial(self._mime, items=small)))
            if large:
                raw.update(self.mailbox.call("fetching headers", partial(self._headers, items=large)))
            for item in chunk:
                if item.id not in raw:
                    continue  # gone between listing and fetching: moved by a person
                oversized = (item.size or 0) > self.cfg.max_message_bytes
                if oversized:
                    log.warning("message %s is %d bytes, over the limit: offered as headers only", item.id, item.size)
                with self.mailbox.guard("listing the watched folder"):
                    received = aware(item.datetime_received)
                yield IncomingMail(item.id, raw[item.id], received, oversized)

    def _list(self, account: Any) -> list[Any]:
        query = self._watched_folder(account).all().only("datetime_received", "size").order_by("datetime_received")
        items = []
        try:
            for item in query:
                if isinstance(item, Exception):
                    raise item
                items.append(item)
        except (ErrorFolderNotFound, ErrorItemNotFound, ErrorInvalidIdMalformed):
            self._forget_folders()  # the watched folder deleted (and maybe made again): found afresh next time
            raise
        return sorted(items, key=lambda i: i.datetime_received)

    def _mime(self, account: Any, items: list[Any]) -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        for item in account.fetch(ids=[(i.id, i.changekey) for i in items], only_fields=["mime_content"]):
            if isinstance(item, Exception):
                if is_gone(item):
                    continue
                raise item
            got[item.id] = bytes(item.mime_content or b"")
        return got

    def _headers(self, account: Any, items: list[Any]) -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        for item in account.fetch(ids=[(i.id, i.changekey) for i in items], only_fields=["headers"]):
            if isinstance(item, Exception):
                if is_gone(item):
                    continue
                raise item
            lines = [f"{h.name}: {h.value or ''}" for h in item.headers or ()]
            got[item.id] = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
        return got

    def move(self, key: str, folder: Folder) -> None:
        name = self.names[folder]

        def move(account: Any) -> None:
            target = self._handled_folder(account, folder)
            try:
                [result] = account.bulk_move(ids=[(key, None)], to_folder=target)
            except (ErrorFolderNotFound, ErrorToFolderNotFound) as exc:  # raised, not returned, for the request
                result = exc
            if not isinstance(result, Exception):
                log.info("moved message %s to %s", key, name)
                return
            if not is_gone(result) and not isinstance(result, ErrorToFolderNotFound):
                raise result
            # "Not found": the folder, or the message? Only a message no longer in the watched folder is let go.
            if isinstance(result, ErrorFolderNotFound | ErrorToFolderNotFound) or self._still_watched(account, key):
                self._forget_folders()
                raise TransientError(
                    f"the folder {name} in the referral mailbox was not found (deleted?); message {key} stays in "
                    "the watched folder and is moved on the next round, the folder found or made again"
                )
            log.info("message %s is no longer in the watched folder; nothing to move", key)

        self.mailbox.call(f"moving a message to {name}", move)

    def _still_watched(self, account: Any, key: str) -> bool:
        """Is the message with this item id still in the watched folder (GetItem of its parent folder)?"""
        [item] = account.fetch(ids=[(key, None)], only_fields=["parent_folder_id"])
        if isinstance(item, Exception):
            if is_gone(item):
                return False
            raise item
        parent = item.parent_folder_id.id if item.parent_folder_id is not None else None
        return bool(parent == self._watched_folder(account).id)

    def wait(self, timeout: float) -> bool:
        """EWS is polled: sleep the timeout and let the next ``pending()`` look."""
        self.sleep(max(timeout, 0.0))
        return False

    def check(self) -> list[str]:
        """What stops the inbox working, in words; empty when the mailbox and its watched folder answer."""
        return self.mailbox.problems(self._watched_folder, "opening the watched folder")

    def throttled_until(self) -> datetime | None:
        """When Exchange lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.mailbox.busy_until()

    def close(self) -> None:
        self._forget_folders()
        self.mailbox.close()
