"""The referral inbox and the sender on a Microsoft 365 mailbox through Microsoft Graph.

The inbox follows the watched folder with a delta query. Graph's delta only reports
changes, so the adapter keeps, beside the delta link, the list of messages still in the
folder: a message listed before a crash and never moved is offered again by the next
adapter on the same state. Nothing is marked read; "done" is the message having been moved.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

import requests

from bot.adapters.graph_client import GraphClient, body, graph_error, odata_string, segment, unexpected
from bot.config import GraphConfig, InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import AdapterState, Folder, IncomingMail, handled_folders

log = logging.getLogger(__name__)

# PidTagMessageSize: Graph's message resource has no size, the MAPI property does.
SIZE_PROPERTY = "Integer 0x0E08"
# Graph's well-known folder names (any case in the config) that need no lookup by display name.
WELL_KNOWN = {
    "inbox", "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "junkemail",
    "localfailures", "msgfolderroot", "outbox", "recoverableitemsdeletions", "scheduled", "searchfolders",
    "sentitems", "serverfailures", "syncissues",
}  # fmt: skip
# One sendMail request may carry at most 4 MB; the MIME goes base64-encoded inside it.
SEND_LIMIT = 4 * 1024 * 1024
# Headers of an oversized message are read from the start of its MIME, up to this much.
HEADER_LIMIT = 256 * 1024
MAIL = "Mail.ReadWrite"


@dataclass(frozen=True)
class _Listed:
    """A message the delta said is in the watched folder."""

    id: str
    received: str  # receivedDateTime as Graph wrote it (UTC)
    internet_id: str | None
    size: int | None

    def to_json(self) -> list[Any]:
        return [self.received, self.internet_id, self.size]

    @classmethod
    def from_json(cls, key: str, value: list[Any]) -> _Listed:
        return cls(key, str(value[0]), value[1], value[2])

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> _Listed:
        size = None
        for prop in item.get("singleValueExtendedProperties") or ():
            if str(prop.get("id", "")).lower() == SIZE_PROPERTY.lower():
                try:
                    size = int(prop["value"])
                except (KeyError, TypeError, ValueError):
                    size = None
        return cls(str(item["id"]), str(item.get("receivedDateTime") or ""), item.get("internetMessageId"), size)


def _received(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def addressed_to(raw: bytes, recipients: Sequence[str]) -> bytes:
    """The MIME with To/Cc/Bcc naming exactly ``recipients``; unchanged when they already do."""
    end = next((at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0), len(raw))
    head, rest = raw[:end], raw[end:]
    eol = b"\r\n" if b"\r\n" in head else b"\n"
    fields: list[list[bytes]] = []  # each header field with its folded continuation lines
    for line in head.split(eol):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    wanted = {r.lower(): r for r in recipients}
    named: set[str] = set()
    kept: list[bytes] = []
    for field in fields:
        name, _, value = b"".join(f.strip(b"\r") if i else f for i, f in enumerate(field)).partition(b":")
        if name.strip().lower() not in (b"to", b"cc", b"bcc"):
            kept.append(eol.join(field))
            continue
        addresses = [a for _, a in getaddresses([value.decode("ascii", "replace")]) if a]
        inside = [a for a in addresses if a.lower() in wanted]
        named.update(a.lower() for a in inside)
        if len(inside) == len(addresses):
            kept.append(eol.join(field))
            continue
        if inside:
            kept.append(name.strip() + b": " + ", ".join(inside).encode("ascii", "replace"))
        log.warning("%d header recipient(s) not in the envelope taken out of %s", len(addresses) - len(inside),
                    name.strip().decode("ascii", "replace"))  # fmt: skip
    missing = [wanted[r] for r in wanted if r not in named]
    if missing:
        kept.insert(0, b"Bcc: " + ", ".join(missing).encode("ascii", "replace"))
    result = eol.join(kept) + rest
    return raw if result == raw else result


def _header_block(raw: bytes) -> bytes:
    """The header section of a MIME message, ending in one blank line."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at >= 0:
            return raw[: at + len(sep)]
    return raw.rstrip(b"\r\n") + b"\r\n\r\n"


class GraphInbox:
    """The ``Inbox`` port on a folder of a Microsoft 365 mailbox.

    State in ``AdapterState`` under ``graph:{mailbox}:{folder}:delta``: the delta link and the
    messages in the folder (id, receipt time, Message-ID, size). A 410 Gone (or a sync state
    Graph no longer has) starts a full resync, which replaces the list rather than adding to it.
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
        self.state = state
        self.sleep = sleep
        self.now = now
        self.names = handled_folders(cfg)
        self.state_key = f"graph:{mailbox}:{cfg.folder}:delta"
        self.base = f"/users/{segment(mailbox)}"
        self._watched: dict[str, Any] | None = None
        self._folder_ids: dict[Folder, str] = {}
        self._listed: dict[str, _Listed] | None = None
        self._delta_link: str | None = None

    @classmethod
    def from_config(cls, graph_cfg: GraphConfig, inbox_cfg: InboxConfig, state: AdapterState) -> GraphInbox:
        return cls(GraphClient(graph_cfg), graph_cfg.mailbox, inbox_cfg, state)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        return self.client.request(method, path, need=MAIL, mailbox=self.mailbox, what=what, **kwargs)

    # -- folders ---------------------------------------------------------------------------

    def _child(self, parent: str | None, name: str) -> dict[str, Any] | None:
        where = f"{self.base}/mailFolders/{segment(parent)}/childFolders" if parent else f"{self.base}/mailFolders"
        params = {"$filter": f"displayName eq {odata_string(name)}", "$select": "id,displayName,parentFolderId"}
        what = f"looking for the mail folder {name!r}"
        found = body(self._call("GET", where, what, params=params), what)
        for folder in found.get("value", []):
            if str(folder.get("displayName", "")).lower() == name.lower():
                return dict(folder)
        return None

    def _find_watched(self) -> dict[str, Any] | None:
        """The watched folder: a well-known name, a top-level folder, or a path such as ``Inbox/Referrals``."""
        parts = [p for p in self.cfg.folder.split("/") if p]
        if not parts:
            return None
        first, rest = parts[0], parts[1:]
        if first.lower() in WELL_KNOWN:
            resp = self._call(
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
            folder = self._child(None, first)
        for name in rest:
            if folder is None:
                return None
            folder = self._child(str(folder["id"]), name)
        return folder

    def _prepare(self) -> None:
        """Find the watched folder and the handled folders beside it, creating those that are missing."""
        if self._watched is not None and len(self._folder_ids) == len(self.names):
            return
        watched = self._find_watched()
        if watched is None:
            raise PermanentError(f"the watched folder {self.cfg.folder!r} was not found in mailbox {self.mailbox}")
        self._watched = watched
        parent = watched.get("parentFolderId")
        for role, name in self.names.items():
            folder = self._child(parent, name)
            if folder is None:
                where = (
                    f"{self.base}/mailFolders/{segment(parent)}/childFolders" if parent else f"{self.base}/mailFolders"
                )
                resp = self._call(
                    "POST", where, f"creating the mail folder {name!r}", json={"displayName": name}, allow=(409,)
                )
                folder = (
                    self._child(parent, name)
                    if resp.status_code == 409
                    else body(resp, f"creating the mail folder {name!r}")
                )
                if folder is None:
                    raise TransientError(f"the mail folder {name!r} could not be created in mailbox {self.mailbox}")
                log.info("created the mail folder %r in %s", name, self.mailbox)
            self._folder_ids[role] = str(folder["id"])

    # -- state -----------------------------------------------------------------------------

    def _load(self) -> dict[str, _Listed]:
        if self._listed is None:
            text = self.state.get_state(self.state_key)
            listed: dict[str, _Listed] = {}
            link = None
            if text:
                try:
                    saved = json.loads(text)
                    link = saved.get("delta")
                    listed = {k: _Listed.from_json(k, v) for k, v in saved.get("messages", {}).items()}
                except (ValueError, TypeError, AttributeError, IndexError):
                    log.warning(
                        "the saved Graph delta state for %s was unreadable; reading the folder again", self.cfg.folder
                    )
                    listed, link = {}, None
            self._listed, self._delta_link = listed, link
        return self._listed

    def _save(self) -> None:
        listed = self._listed or {}
        value = {"delta": self._delta_link, "messages": {k: v.to_json() for k, v in listed.items()}}
        self.state.put_state(self.state_key, json.dumps(value, separators=(",", ":")), self.now())

    def _sync(self) -> dict[str, _Listed]:
        """One delta round from the saved link (or from nothing): the messages now in the folder."""
        self._prepare()
        assert self._watched is not None
        start = (
            f"{self.base}/mailFolders/{segment(str(self._watched['id']))}/messages/delta",
            {
                "$select": "id,receivedDateTime,internetMessageId",
                "$expand": f"singleValueExtendedProperties($filter=id eq {odata_string(SIZE_PROPERTY)})",
            },
        )
        listed = dict(self._load())
        link: str | None = self._delta_link
        if link is None:
            listed = {}
        url, params = (link, None) if link else start
        resynced = False
        while True:
            resp = self._call("GET", url, "reading new mail", params=params, allow=(400, 404, 410))
            if resp.status_code in (400, 404, 410):
                code, _ = graph_error(resp)
                expired = resp.status_code == 410 or code.lower() in ("syncstatenotfound", "resyncrequired")
                if not expired or resynced or link is None:
                    raise self.client.failure(resp, need=MAIL, mailbox=self.mailbox, what="reading new mail")
                log.warning(
                    "Graph no longer knows our place in %s (%s); reading the whole folder", self.cfg.folder, code
                )
                listed, (url, params), resynced, link = {}, start, True, None
                continue
            page = body(resp, "reading new mail")
            for item in page.get("value", []):
                if "@removed" in item:
                    listed.pop(str(item.get("id")), None)
                elif item.get("id"):
                    listed[str(item["id"])] = _Listed.from_graph(item)
            next_link = page.get("@odata.nextLink")
            if next_link:
                url, params = str(next_link), None
                continue
            self._delta_link = str(page.get("@odata.deltaLink") or "") or None
            break
        self._listed = listed
        self._save()
        return listed

    # -- the port --------------------------------------------------------------------------

    def pending(self) -> Iterator[IncomingMail]:
        """Every message in the watched folder, oldest first; one Message-ID once per listing."""
        with unexpected("reading new mail"):
            listing = sorted(self._sync().values(), key=lambda m: (_received(m.received), m.id))
        seen: set[str] = set()
        for item in listing:
            if self._listed is None or item.id not in self._listed:
                continue  # moved while this listing was being handled
            if item.internet_id:
                if item.internet_id in seen:
                    continue  # a second copy: offered again once the first has been moved
                seen.add(item.internet_id)
            with unexpected("downloading a message"):
                mail = self._fetch(item)
            if mail is not None:
                yield mail

    def _fetch(self, item: _Listed) -> IncomingMail | None:
        limit = self.cfg.max_message_bytes
        received = _received(item.received)
        path = f"{self.base}/messages/{segment(item.id)}"
        if item.size is not None and item.size > limit:
            log.warning("a message is %d bytes, over the limit of %d; reading its headers only", item.size, limit)
            raw = self._headers(path)
            return None if raw is None else IncomingMail(item.id, raw, received, oversized=True)
        resp = self._call("GET", f"{path}/$value", "downloading a message", allow=(404,), stream=True)
        if resp.status_code == 404:
            self._forget(item.id)
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
        resp = self._call(
            "GET", path, "reading a message's headers", params={"$select": "internetMessageHeaders"}, allow=(404,)
        )
        if resp.status_code == 404:
            return None
        headers = body(resp, "reading a message's headers").get("internetMessageHeaders") or []
        if headers:
            lines = [f"{h.get('name', '')}: {h.get('value', '')}" for h in headers if h.get("name")]
            return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
        resp = self._call("GET", f"{path}/$value", "reading a message's headers", allow=(404,), stream=True)
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

    def _forget(self, key: str) -> None:
        if self._listed is not None and self._listed.pop(key, None) is not None:
            self._save()

    def move(self, key: str, folder: Folder) -> None:
        """Move the message to its handled folder; a message already gone (404) is not an error."""
        with unexpected("moving a handled message"):
            self._prepare()
            resp = self._call(
                "POST",
                f"{self.base}/messages/{segment(key)}/move",
                "moving a handled message",
                json={"destinationId": self._folder_ids[folder]},
                allow=(404,),
            )
            if resp.status_code == 404:
                log.info("a handled message was already gone from %s", self.cfg.folder)
            self._load()
            self._forget(key)

    def wait(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds: Graph pushes only to a public webhook, so the daemon polls."""
        self.sleep(timeout)
        return False

    def check(self) -> list[str]:
        """What ``check-config`` reports, in plain words: empty when the inbox is ready."""
        try:
            with unexpected(f"opening the mail folder {self.cfg.folder!r}"):
                self.client.token()
                watched = self._find_watched()
        except (TransientError, PermanentError) as exc:
            return [f"Graph inbox: {exc}"]
        if watched is None:
            return [f"Graph inbox: the watched folder {self.cfg.folder!r} was not found in mailbox {self.mailbox}"]
        return []

    def close(self) -> None:
        self.client.close()


class GraphSender:
    """The ``MailSender`` port: ``sendMail`` with the MIME as it is, so our headers reach the recipients unchanged.

    Graph takes the recipients from the MIME's To, Cc and Bcc, not from an envelope. When the
    envelope and the headers agree (the bot's own emails) the MIME goes byte for byte. Otherwise
    the envelope wins, as it would over SMTP: an envelope recipient the headers do not name is
    added as Bcc (Exchange strips it on delivery), and a To/Cc address outside the envelope is
    taken out of the header, since case details go only where the bot decided.
    """

    def __init__(self, client: GraphClient, mailbox: str) -> None:
        self.client = client
        self.mailbox = mailbox

    @classmethod
    def from_config(cls, graph_cfg: GraphConfig) -> GraphSender:
        return cls(GraphClient(graph_cfg), graph_cfg.mailbox)

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        what = f"sending email {message_id}"
        with unexpected(what):
            raw = addressed_to(raw, recipients)
            encoded = base64.b64encode(raw)
            if len(encoded) > SEND_LIMIT:
                raise PermanentError(
                    f"email {message_id} is {len(raw) / 1048576:.1f} MB; Microsoft Graph takes at most 4 MB in one "
                    "request once encoded, so it was not sent"
                )
            self.client.request(
                "POST",
                f"/users/{segment(self.mailbox)}/sendMail",
                need="Mail.Send",
                mailbox=self.mailbox,
                what=what,
                data=encoded,
                content_type="text/plain",
            )
        log.info("email %s handed to Microsoft Graph for %d recipient(s)", message_id, len(set(recipients)))

    def check(self) -> list[str]:
        """Whether a token can be had and the mailbox exists; Mail.Send itself cannot be tried without sending."""
        try:
            with unexpected("looking for the Sent Items folder"):
                self.client.token()
                self.client.request(
                    "GET",
                    f"/users/{segment(self.mailbox)}/mailFolders/sentitems",
                    need="Mail.ReadWrite",
                    mailbox=self.mailbox,
                    what="looking for the Sent Items folder",
                    params={"$select": "id"},
                    allow=(403,),
                )
        except (TransientError, PermanentError) as exc:
            return [f"Graph sender: {exc}"]
        return []

    def close(self) -> None:
        self.client.close()
