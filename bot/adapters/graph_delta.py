"""The messages still in the watched folder, followed with Graph's delta query and kept in ``AdapterState``.

Graph's delta only reports changes, so beside the delta link the list of messages still in
the folder is kept: a message listed before a crash and never moved is offered again by the
next adapter on the same state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.adapters.graph_client import body, graph_error, odata_string, segment
from bot.adapters.graph_folders import MAIL, MailFolders
from bot.errors import TransientError
from bot.ports import AdapterState

log = logging.getLogger(__name__)

# PidTagMessageSize: Graph's message resource has no size, the MAPI property does.
SIZE_PROPERTY = "Integer 0x0E08"


@dataclass(frozen=True)
class ListedMessage:
    """A message the delta said is in the watched folder."""

    id: str
    received: str  # receivedDateTime as Graph wrote it (UTC)
    internet_id: str | None
    size: int | None

    def to_json(self) -> list[Any]:
        return [self.received, self.internet_id, self.size]

    @classmethod
    def from_json(cls, key: str, value: list[Any]) -> ListedMessage:
        return cls(key, str(value[0]), value[1], value[2])

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> ListedMessage:
        size = None
        for prop in item.get("singleValueExtendedProperties") or ():
            if str(prop.get("id", "")).lower() == SIZE_PROPERTY.lower():
                try:
                    size = int(prop["value"])
                except (KeyError, TypeError, ValueError):
                    size = None
        return cls(str(item["id"]), str(item.get("receivedDateTime") or ""), item.get("internetMessageId"), size)


class DeltaListing:
    """The watched folder's messages and the delta link, under ``graph:{mailbox}:{folder}:delta``.

    A 410 Gone (or a sync state Graph no longer has), on a first sync too, starts a full
    resync, which replaces the list rather than adding to it.
    """

    def __init__(self, folders: MailFolders, state: AdapterState, now: Callable[[], datetime]) -> None:
        self.folders = folders
        self.state = state
        self.now = now
        self.state_key = f"graph:{folders.mailbox}:{folders.cfg.folder}:delta"
        self.listed: dict[str, ListedMessage] | None = None
        self.delta_link: str | None = None

    def load(self) -> dict[str, ListedMessage]:
        if self.listed is None:
            text = self.state.get_state(self.state_key)
            listed: dict[str, ListedMessage] = {}
            link = None
            if text:
                try:
                    saved = json.loads(text)
                    link = saved.get("delta")
                    listed = {k: ListedMessage.from_json(k, v) for k, v in saved.get("messages", {}).items()}
                except (ValueError, TypeError, AttributeError, IndexError):
                    log.warning(
                        "the saved Graph delta state for %s was unreadable; reading the folder again",
                        self.folders.cfg.folder,
                    )
                    listed, link = {}, None
            self.listed, self.delta_link = listed, link
        return self.listed

    def save(self) -> None:
        listed = self.listed or {}
        value = {"delta": self.delta_link, "messages": {k: v.to_json() for k, v in listed.items()}}
        self.state.put_state(self.state_key, json.dumps(value, separators=(",", ":")), self.now())

    def sync(self) -> dict[str, ListedMessage]:
        """One delta round from the saved link (or from nothing): the messages now in the folder.

        Graph forgetting our place (410, ``syncStateNotFound``, ``resyncRequired``), on a first
        sync too, starts the listing again from the start, once per round. The watched folder not
        found (deleted, or deleted and made again under a new id) drops the folder ids and reads
        the folder found by name from the start, once per round.
        """
        listed = dict(self.load())
        link: str | None = self.delta_link
        if link is None:
            listed = {}
        url, params = (link, None) if link else self._start()
        resynced = refound = False
        while True:
            resp = self.folders.call("GET", url, "reading new mail", params=params, allow=(400, 404, 410))
            if resp.status_code in (400, 404, 410):
                code, _ = graph_error(resp)
                expired = resp.status_code == 410 or code.lower() in ("syncstatenotfound", "resyncrequired")
                if resp.status_code == 404 and not expired and not refound:
                    self.folders.forget()  # the watched folder is not where it was: found by name again
                    refound = True
                elif expired and resynced:
                    raise TransientError(
                        f"Microsoft Graph forgot the listing of {self.folders.cfg.folder!r} again while it was "
                        f"read from the start ({code}); it will be read again"
                    )
                elif not expired:
                    raise self.folders.client.failure(
                        resp, need=MAIL, mailbox=self.folders.mailbox, what="reading new mail"
                    )
                else:
                    resynced = True
                    log.warning("Graph no longer knows our place in %s (%s); reading it whole", self.folders.cfg.folder,
                                code)  # fmt: skip
                listed, (url, params), self.delta_link = {}, self._start(), None
                continue
            page = body(resp, "reading new mail")
            for item in page.get("value", []):
                if "@removed" in item:
                    listed.pop(str(item.get("id")), None)
                elif item.get("id"):
                    listed[str(item["id"])] = ListedMessage.from_graph(item)
            next_link = page.get("@odata.nextLink")
            if next_link:
                url, params = str(next_link), None
                continue
            self.delta_link = str(page.get("@odata.deltaLink") or "") or None
            break
        self.listed = listed
        self.save()
        return listed

    def _start(self) -> tuple[str, dict[str, str]]:
        """The first delta call on the watched folder, found (and the handled folders made) when not known."""
        self.folders.prepare()
        assert self.folders.watched is not None
        return (
            f"{self.folders.base}/mailFolders/{segment(str(self.folders.watched['id']))}/messages/delta",
            {
                "$select": "id,receivedDateTime,internetMessageId",
                "$expand": f"singleValueExtendedProperties($filter=id eq {odata_string(SIZE_PROPERTY)})",
            },
        )

    def forget(self, key: str) -> None:
        if self.listed is not None and self.listed.pop(key, None) is not None:
            self.save()
