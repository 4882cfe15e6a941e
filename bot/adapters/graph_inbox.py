"""The referral inbox on a folder of a Microsoft 365 mailbox through Microsoft Graph, polled.

The folder is followed with a delta query (bot/adapters/graph_delta.py). Nothing is marked
read; "done" is the message having been moved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import requests

from bot.adapters.graph_client import GraphClient, body, graph_error, segment, unexpected
from bot.adapters.graph_delta import DeltaListing, ListedMessage
from bot.adapters.graph_folders import MailFolders
from bot.config import GraphConfig, InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import AdapterState, Folder, IncomingMail

log = logging.getLogger(__name__)

# Headers of an oversized message are read from the start of its MIME, up to this much.
HEADER_LIMIT = 256 * 1024


def _received(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _header_block(raw: bytes) -> bytes:
    """The header section of a MIME message, ending in one blank line."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at >= 0:
            return raw[: at + len(sep)]
    return raw.rstrip(b"\r\n") + b"\r\n\r\n"


class GraphInbox:
    """The ``Inbox`` port on a folder of a Microsoft 365 mailbox.

    State in ``AdapterState`` under ``graph:{mailbox}:{folder}:delta`` (``DeltaListing``): the
    delta link and the messages in the folder (id, receipt time, Message-ID, size).
    """

    def __init__(
        self,
        client: GraphClient,
        mailbox: str,
        cfg: InboxConfig,
        state: AdapterState,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.cfg = cfg
        self.sleep = sleep
        self.folders = MailFolders(client, mailbox, cfg)
        self.listing = DeltaListing(self.folders, state, now)

    @classmethod
    def from_config(cls, graph_cfg: GraphConfig, inbox_cfg: InboxConfig, state: AdapterState) -> GraphInbox:
        return cls(GraphClient(graph_cfg), graph_cfg.mailbox, inbox_cfg, state)

    # -- the port --------------------------------------------------------------------------

    def pending(self) -> Iterator[IncomingMail]:
        """Every message in the watched folder, oldest first; one Message-ID once per listing."""
        with unexpected("reading new mail"):
            listing = sorted(self.listing.sync().values(), key=lambda m: (_received(m.received), m.id))
        seen: set[str] = set()
        for item in listing:
            if self.listing.listed is None or item.id not in self.listing.listed:
                continue  # moved while this listing was being handled
            if item.internet_id:
                if item.internet_id in seen:
                    continue  # a second copy: offered again once the first has been moved
                seen.add(item.internet_id)
            with unexpected("downloading a message"):
                mail = self._fetch(item)
            if mail is not None:
                yield mail

    def _fetch(self, item: ListedMessage) -> IncomingMail | None:
        limit = self.cfg.max_message_bytes
        received = _received(item.received)
        path = f"{self.folders.base}/messages/{segment(item.id)}"
        if item.size is not None and item.size > limit:
            log.warning("a message is %d bytes, over the limit of %d; reading its headers only", item.size, limit)
            raw = self._headers(path)
            return None if raw is None else IncomingMail(item.id, raw, received, oversized=True)
        resp = self.folders.call("GET", f"{path}/$value", "downloading a message", allow=(404,), stream=True)
        if resp.status_code == 404:
            self.listing.forget(item.id)
            return None
        data = bytearray()
        try:
            for chunk in resp.iter_content(64 * 1024):
                data += chunk
                if len(data) > limit:
                    break
        except requests.RequestException as exc:
            raise TransientError(
                f"Microsoft Graph broke off while downloading a message ({type(exc).__name__})"
            ) from exc
        finally:
            resp.close()
        if len(data) > limit:
            # The size property was missing or wrong: the download is cut, the headers kept.
            log.warning("a message is over the limit of %d bytes; keeping its headers only", limit)
            return IncomingMail(item.id, _header_block(bytes(data)), received, oversized=True)
        return IncomingMail(item.id, bytes(data), received)

    def _headers(self, path: str) -> bytes | None:
        """The header block of a message without its body: Graph's ``internetMessageHeaders``, else the MIME's start."""
        resp = self.folders.call(
            "GET", path, "reading a message's headers", params={"$select": "internetMessageHeaders"}, allow=(404,)
        )
        if resp.status_code == 404:
            return None
        headers = body(resp, "reading a message's headers").get("internetMessageHeaders") or []
        if headers:
            lines = [f"{h.get('name', '')}: {h.get('value', '')}" for h in headers if h.get("name")]
            return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
        resp = self.folders.call("GET", f"{path}/$value", "reading a message's headers", allow=(404,), stream=True)
        if resp.status_code == 404:
            return None
        data = bytearray()
        try:
            for chunk in resp.iter_content(16 * 1024):
                data += chunk
                if b"\r\n\r\n" in data or b"\n\n" in data or len(data) > HEADER_LIMIT:
                    break
        finally:
            resp.close()
        return _header_block(bytes(data))

    def move(self, key: str, folder: Folder) -> None:
        """Move the message to its handled folder; never reported moved while it is still in the watched folder.

        A refused move is looked into: a message gone, or already in that folder (an answer
        lost), is done with. A message still where it was means the handled folder is not: the
        folder ids are dropped, so the next round looks them up (and makes them) again, and the
        message, still listed, is offered and moved then.
        """
        what = "moving a handled message"
        with unexpected(what):
            self.folders.prepare()
            destination = self.folders.ids[folder]
            path = f"{self.folders.base}/messages/{segment(key)}"
            resp = self.folders.call(
                "POST", f"{path}/move", what, json={"destinationId": destination}, allow=(400, 404)
            )
            if resp.status_code in (400, 404):
                code, _ = graph_error(resp)
                found = self.folders.call("GET", path, what, params={"$select": "id,parentFolderId"}, allow=(404,))
                where = None if found.status_code == 404 else body(found, what).get("parentFolderId")
                if where is None:
                    log.info("a handled message was already gone from %s", self.cfg.folder)
                elif where != destination:
                    self.folders.forget()
                    name = self.folders.names[folder]
                    raise TransientError(
                        f"the mail folder {name!r} was not found in mailbox {self.mailbox} while {what} "
                        f"(Graph said {code}); the folders are looked up again and the message stays in "
                        f"{self.cfg.folder!r} until it is moved at the next round"
                    )
            self.listing.load()
            self.listing.forget(key)

    def wait(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds: Graph pushes only to a public webhook, so the daemon polls."""
        self.sleep(timeout)
        return False

    def check(self) -> list[str]:
        """What ``check-config`` reports, in plain words: empty when the inbox is ready."""
        try:
            with unexpected(f"opening the mail folder {self.cfg.folder!r}"):
                self.client.token()
                watched = self.folders.find_watched()
        except (TransientError, PermanentError) as exc:
            return [f"Graph inbox: {exc}"]
        if watched is None:
            return [f"Graph inbox: the watched folder {self.cfg.folder!r} was not found in mailbox {self.mailbox}"]
        return []

    def throttled_until(self) -> datetime | None:
        """When Graph lets this mailbox be asked again, while that is still to come (``Throttled``)."""
        return self.client.throttled_until(self.mailbox)

    def close(self) -> None:
        self.client.close()
