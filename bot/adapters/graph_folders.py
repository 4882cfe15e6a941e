"""The watched folder of a Microsoft 365 mailbox and the handled folders beside it, found by name, made when missing."""

from __future__ import annotations

import logging
from typing import Any

import requests

from bot.adapters.graph_client import GraphClient, body, odata_string, segment
from bot.config import InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import Folder, handled_folders

log = logging.getLogger(__name__)

# The application permission every call on the referral mailbox's mail uses.
MAIL = "Mail.ReadWrite"
# Graph's well-known folder names (any case in the config) that need no lookup by display name.
WELL_KNOWN = {
    "inbox", "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "junkemail",
    "localfailures", "msgfolderroot", "outbox", "recoverableitemsdeletions", "scheduled", "searchfolders",
    "sentitems", "serverfailures", "syncissues",
}  # fmt: skip


class MailFolders:
    """The referral mailbox's folders, and the calls on its mail (``Mail.ReadWrite``) that the inbox makes."""

    def __init__(self, client: GraphClient, mailbox: str, cfg: InboxConfig) -> None:
        self.client = client
        self.mailbox = mailbox
        self.cfg = cfg
        self.names = handled_folders(cfg)
        self.base = f"/users/{segment(mailbox)}"
        self.watched: dict[str, Any] | None = None
        self.ids: dict[Folder, str] = {}

    def forget(self) -> None:
        """Drop the folder ids: a folder was not found, so all are looked up (and made) again at the next call."""
        if self.watched is not None or self.ids:
            log.warning("a mail folder in %s was not where it was; looking the folders up again", self.mailbox)
        self.watched, self.ids = None, {}

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        return self.client.request(method, path, need=MAIL, mailbox=self.mailbox, what=what, **kwargs)

    def child(self, parent: str | None, name: str) -> dict[str, Any] | None:
        where = f"{self.base}/mailFolders/{segment(parent)}/childFolders" if parent else f"{self.base}/mailFolders"
        params = {"$filter": f"displayName eq {odata_string(name)}", "$select": "id,displayName,parentFolderId"}
        what = f"looking for the mail folder {name!r}"
        found = body(self.call("GET", where, what, params=params), what)
        for folder in found.get("value", []):
            if str(folder.get("displayName", "")).lower() == name.lower():
                return dict(folder)
        return None

    def find_watched(self) -> dict[str, Any] | None:
        """The watched folder: a well-known name, a top-level folder, or a path such as ``Inbox/Referrals``."""
        parts = [p for p in self.cfg.folder.split("/") if p]
        if not parts:
            return None
        first, rest = parts[0], parts[1:]
        if first.lower() in WELL_KNOWN:
            resp = self.call(
                "GET",
                f"{self.base}/mailFolders/{first.lower()}",
                f"opening the mail folder {first!r}",
                params={"$select": "id,displayName,parentFolderId"},
                allow=(404,),
            )
            folder: dict[str, Any] | None = (
                None if resp.status_code == 404 else body(resp, f"opening the mail folder {first!r}")
            )
        else:
            folder = self.child(None, first)
        for name in rest:
            if folder is None:
                return None
            folder = self.child(str(folder["id"]), name)
        return folder

    def prepare(self) -> None:
        """Find the watched folder and the handled folders beside it, creating those that are missing."""
        if self.watched is not None and len(self.ids) == len(self.names):
            return
        watched = self.find_watched()
        if watched is None:
            raise PermanentError(f"the watched folder {self.cfg.folder!r} was not found in mailbox {self.mailbox}")
        self.watched = watched
        parent = watched.get("parentFolderId")
        for role, name in self.names.items():
            folder = self.child(parent, name)
            if folder is None:
                where = (
                    f"{self.base}/mailFolders/{segment(parent)}/childFolders" if parent else f"{self.base}/mailFolders"
                )
                resp = self.call(
                    "POST", where, f"creating the mail folder {name!r}", json={"displayName": name}, allow=(409,)
                )
                folder = (
                    self.child(parent, name)
                    if resp.status_code == 409
                    else body(resp, f"creating the mail folder {name!r}")
                )
                if folder is None:
                    raise TransientError(f"the mail folder {name!r} could not be created in mailbox {self.mailbox}")
                log.info("created the mail folder %r in %s", name, self.mailbox)
            self.ids[role] = str(folder["id"])
