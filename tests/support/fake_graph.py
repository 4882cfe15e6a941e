"""An in-memory Microsoft Graph (and Entra ID token endpoint) on ``responses`` callbacks.

It keeps mailboxes with folders, messages and calendars, and answers with JSON shaped like
Microsoft's documented examples: message delta with ``@odata.nextLink``/``@odata.deltaLink``
and ``@removed``, ``$value`` MIME, ``move``, ``sendMail`` with base64 MIME, a draft made from
base64 MIME (``POST /messages``) and sent (``/send``, through the Outbox to Sent Items after
``submit_lag`` requests), ``calendarView``,
event create/update/cancel, and Graph's ``{"error": {"code", "message"}}`` bodies. Every
request is recorded so tests assert on what the adapter sent; ``fail`` queues faults
(throttling, outages) and ``deny`` withholds a permission for one mailbox.
"""

from __future__ import annotations

import base64
import email
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import requests
import responses
from requests import PreparedRequest

ENDPOINT = "https://graph.microsoft.com/v1.0"
AUTHORITY = "https://login.microsoftonline.com"
TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "not-a-real-secret"
PAGE_SIZE = 2  # small, so every listing goes through @odata.nextLink
WELL_KNOWN = ("msgfolderroot", "inbox", "sentitems", "deleteditems", "drafts", "junkemail", "archive")
SIZE_PROPERTY = "Integer 0x0E08"

Reply = tuple[int, dict[str, str], str | bytes]


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {
        "error": {"code": code, "message": message, "innerError": {"date": "2026-11-23T09:00:00", "request-id": "0"}}
    }
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


def ok(body: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


@dataclass
class Recorded:
    method: str
    url: str
    path: str  # below the endpoint, segments unquoted, e.g. /users/a@b.example/sendMail
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the fake answered
    prefer: list[str] = field(default_factory=list)  # each Prefer header line, as sent

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    reply: Reply
    times: int
    after: bool = False  # the call is carried out, then its answer is lost


@dataclass
class FakeFolder:
    id: str
    name: str
    parent: str | None
    well_known: str | None = None


@dataclass
class FakeMessage:
    id: str
    folder: str
    mime: bytes
    received: datetime
    is_draft: bool = False

    @property
    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.mime, policy=default_policy)  # type: ignore[return-value]

    @property
    def internet_id(self) -> str | None:
        value = self.parsed["Message-ID"]
        return str(value) if value else None


@dataclass
class FakeEvent:
    id: str
    calendar: str
    data: dict[str, Any]
    start: datetime  # aware
    end: datetime
    transaction_id: str | None = None
    uid: str | None = None  # the bot's extended property, when set


@dataclass
class FakeMailbox:
    address: str
    folders: dict[str, FakeFolder] = field(default_factory=dict)
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    calendars: dict[str, str] = field(default_factory=dict)  # id -> name
    events: dict[str, FakeEvent] = field(default_factory=dict)
    sent: list[tuple[list[str], bytes]] = field(default_factory=list)  # (recipients from the headers, MIME)
    changes: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, folder id, message id)


def _zone(name: str) -> Any:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


class FakeGraph:
    """Graph and the token endpoint for one tenant and app; add it to a ``responses.RequestsMock``."""

    def __init__(self, rs: responses.RequestsMock, page_size: int = PAGE_SIZE) -> None:
        self.mock = rs  # every HTTP call, token requests included, is in self.mock.calls
        self.page_size = page_size
        self.mailboxes: dict[str, FakeMailbox] = {}
        self.requests: list[Recorded] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.issued: set[str] = set()
        self.faults: list[Fault] = []
        self.denied: set[tuple[str, str]] = set()
        self.expired_before = 0  # delta tokens older than this sequence number answer 410 Gone
        self.report_size = True  # the message size property in delta answers (PidTagMessageSize)
        # Graph requests a sent draft spends in the Outbox before its copy is in Sent Items
        # ("the copy isn't created until the message is successfully sent, which can take time").
        self.submit_lag = 0
        self._submitting: list[tuple[int, FakeMailbox, FakeMessage]] = []  # (requests left, mailbox, message)
        # What a create with a transactionId already used is answered: Graph does not document it.
        self.repeated_transaction: str = "existing"  # or "409" or "400"
        self.expired_tokens: set[str] = set()
        self.secret = SECRET
        self.roles: list[str] = []  # the token's roles claim: tenant-wide consent in Entra ID (none with RBAC)
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.seq = 0
        self._clock = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        login = re.compile(re.escape(AUTHORITY) + r"/.*")
        rs.add_callback(responses.GET, login, callback=self._login)
        rs.add_callback(responses.POST, login, callback=self._login)
        graph = re.compile(re.escape(ENDPOINT) + r"/.*")
        for method in (responses.GET, responses.POST, responses.PATCH, responses.DELETE):
            rs.add_callback(method, graph, callback=self._graph)

    # -- set-up and inspection for tests ---------------------------------------------------

    def new_id(self, prefix: str = "AAMkAD") -> str:
        # Graph ids are URL-safe base64 with = padding; a slash-free, =-ending id exercises escaping.
        return prefix + base64.urlsafe_b64encode(f"item-{next(self._ids)}".encode()).decode()

    def mailbox(self, address: str) -> FakeMailbox:
        key = address.lower()
        if key not in self.mailboxes:
            box = FakeMailbox(address)
            root = FakeFolder(self.new_id("AQMkRoot"), "Top of Information Store", None, "msgfolderroot")
            box.folders[root.id] = root
            for well_known, name in (
                ("inbox", "Inbox"),
                ("drafts", "Drafts"),
                ("outbox", "Outbox"),
                ("sentitems", "Sent Items"),
                ("deleteditems", "Deleted Items"),
            ):
                folder = FakeFolder(self.new_id("AQMkFld"), name, root.id, well_known)
                box.folders[folder.id] = folder
            self.mailboxes[key] = box
        return self.mailboxes[key]

    def folder(self, address: str, name: str) -> FakeFolder | None:
        box = self.mailbox(address)
        return next(
            (f for f in box.folders.values() if f.well_known == name.lower() or f.name.lower() == name.lower()), None
        )

    def deliver(self, address: str, raw: bytes, folder: str = "inbox", received: datetime | None = None) -> str:
        box = self.mailbox(address)
        target = self.folder(address, folder)
        assert target is not None, f"no folder {folder!r}"
        self._clock += timedelta(seconds=1)
        message = FakeMessage(self.new_id(), target.id, raw, received or self._clock)
        box.messages[message.id] = message
        self._changed(box, target.id, message.id)
        return message.id

    def in_folder(self, address: str, name: str) -> list[str]:
        """The Message-IDs in the folder with this display name, in receipt order."""
        folder = self.folder(address, name)
        if folder is None:
            return []
        box = self.mailbox(address)
        found = sorted((m for m in box.messages.values() if m.folder == folder.id), key=lambda m: m.received)
        return [str(m.internet_id) for m in found]

    def add_calendar(self, address: str, name: str) -> str:
        cid = self.new_id("AAMkCal")
        self.mailbox(address).calendars[cid] = name
        return cid

    def add_event(self, address: str, calendar: str, subject: str, start: datetime, end: datetime, **extra: Any) -> str:
        """An event made by hand in Outlook."""
        eid = self.new_id("AAMkEvt")
        data = {"subject": subject, "showAs": "busy", "sensitivity": "normal", "attendees": [], **extra}
        self.mailbox(address).events[eid] = FakeEvent(eid, calendar, data, start, end)
        return eid

    def fail(self, method: str, path: str, status: int, headers: dict[str, str] | None = None, times: int = 1,
             code: str = "", message: str = "", after: bool = False) -> None:  # fmt: skip
        """The next ``times`` calls matching ``path`` (a regex on the decoded path) get this answer.

        With ``after`` the call is carried out first and only its answer is replaced: a lost answer.
        Status 0 is no answer at all: the connection fails.
        """
        reply = error(status, code or f"Http{status}", message or "Injected by the test.", headers)
        self.faults.append(Fault(method.upper(), re.compile(path), reply, times, after))

    def answer(self, method: str, path: str, status: int, body: str | bytes, content_type: str = "text/html",
               times: int = 1) -> None:  # fmt: skip
        """The next ``times`` calls matching ``path`` get this answer as it is: a proxy's page, a malformed body."""
        self.faults.append(
            Fault(method.upper(), re.compile(path), (status, {"Content-Type": content_type}, body), times)
        )

    def expire_tokens(self) -> None:
        """Every token issued so far is now past its lifetime (or revoked): Graph answers 401 to it."""
        self.expired_tokens |= self.issued
        self.issued.clear()

    def delete_folder(self, address: str, name: str) -> None:
        """A person deletes a folder for good (emptied from Deleted Items), with what was in it."""
        box = self.mailbox(address)
        folder = self.folder(address, name)
        assert folder is not None and folder.well_known is None, f"no folder {name!r} to delete"
        del box.folders[folder.id]
        for message in [m for m in box.messages.values() if m.folder == folder.id]:
            del box.messages[message.id]

    def add_folder(self, address: str, name: str, beside: str = "inbox") -> str:
        """A person makes a folder, beside the one named ``beside``."""
        sibling = self.folder(address, beside)
        assert sibling is not None
        folder = FakeFolder(self.new_id("AQMkFld"), name, sibling.parent)
        self.mailbox(address).folders[folder.id] = folder
        return folder.id

    def deny(self, address: str, permission: str) -> None:
        self.denied.add((address.lower(), permission))

    def calls(self, method: str | None = None, path: str = "") -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and re.search(path, r.path)]

    def _changed(self, box: FakeMailbox, folder: str, message: str) -> None:
        self.seq = next(self._seq)
        box.changes.append((self.seq, folder, message))

    # -- Entra ID ----------------------------------------------------------------------------

    def _login(self, request: PreparedRequest) -> Reply:
        path = urlsplit(str(request.url)).path
        tenant = path.split("/")[1]
        if tenant != TENANT:
            body = {"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}
            return 400, {"Content-Type": "application/json"}, json.dumps(body)
        if path.endswith("/.well-known/openid-configuration"):
            base = f"{AUTHORITY}/{TENANT}"
            return ok(
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                }
            )
        if path.endswith("/oauth2/v2.0/token"):
            form = parse_qs(_text(request.body))
            self.token_requests.append(form)
            if form.get("client_id") != [CLIENT_ID]:
                return _token_error(
                    "unauthorized_client",
                    f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found.",
                )
            if "client_assertion" not in form and form.get("client_secret") != [self.secret]:
                return _token_error("invalid_client", "AADSTS7000215: Invalid client secret provided.")
            token = jwt({"aud": "https://graph.microsoft.com", "n": len(self.token_requests), "roles": self.roles})
            self.issued.add(token)
            return ok({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})
        return 404, {}, ""

    # -- Graph -------------------------------------------------------------------------------

    def _graph(self, request: PreparedRequest) -> Reply:
        url = urlsplit(str(request.url))
        prefix = urlsplit(ENDPOINT).path
        parts: list[str] = []
        for raw_part in url.path[len(prefix) :].split("/"):
            part = unquote(raw_part)
            keyed = re.fullmatch(r"(\w+)\('(.*)'\)", part)  # OData key syntax in Graph's links: mailFolders('id')
            parts.extend(keyed.groups() if keyed else [part] if part else [])
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw_headers: Any = request.headers
        prefer = [str(v) for v in raw_headers.getlist("Prefer")] if hasattr(raw_headers, "getlist") else (
            [str(raw_headers["Prefer"])] if "Prefer" in raw_headers else []
        )  # fmt: skip
        headers = {k: str(v) for k, v in raw_headers.items() if k.lower() != "prefer"}
        if prefer:
            headers["Prefer"] = ", ".join(prefer)
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        method = str(request.method)
        recorded = Recorded(method, str(request.url), "/" + "/".join(parts), query, headers, bytes(body), 0, prefer)
        self.requests.append(recorded)
        self._submit_some()
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.path.search(recorded.path):
                fault.times -= 1
                if fault.after:
                    self._answer(recorded, parts, query, headers)
                recorded.status = fault.reply[0]
                if not fault.reply[0]:
                    raise requests.ConnectionError("connection refused (injected by the test)")
                return fault.reply
        reply = self._answer(recorded, parts, query, headers)
        recorded.status = reply[0]
        return reply

    def _submit_some(self) -> None:
        still = []
        for left, box, message in self._submitting:
            if left <= 0:
                self._file(box, message, "sentitems")
            else:
                still.append((left - 1, box, message))
        self._submitting = still

    def _file(self, box: FakeMailbox, message: FakeMessage, well_known: str) -> None:
        target = next(f for f in box.folders.values() if f.well_known == well_known)
        old, message.folder = message.folder, target.id
        self._changed(box, old, message.id)
        self._changed(box, target.id, message.id)

    def _answer(self, recorded: Recorded, parts: list[str], query: dict[str, str], headers: dict[str, str]) -> Reply:
        method = recorded.method
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self.expired_tokens:
            return error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        if token not in self.issued:
            return error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if len(parts) < 3 or parts[0] != "users":
            return error(400, "BadRequest", "Unsupported request.")
        address = parts[1]
        if address.lower() not in self.mailboxes:
            return error(404, "ErrorInvalidUser", f"The requested user '{address}' is invalid.")
        box = self.mailboxes[address.lower()]
        rest = parts[2:]
        sending = rest == ["sendMail"] or (rest[0] == "messages" and rest[2:] == ["send"])
        permission = "Mail.Send" if sending else (
            "Calendars.ReadWrite" if rest[0] in ("calendars", "events", "calendar") else "Mail.ReadWrite"
        )  # fmt: skip
        if (address.lower(), permission) in self.denied:
            return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if rest[0] == "mailFolders":
            return self._folders(box, method, rest[1:], query, recorded)
        if rest[0] == "messages":
            return self._messages(box, method, rest[1:], query, recorded)
        if rest == ["sendMail"]:
            return self._send(box, recorded)
        if rest[0] == "calendars":
            return self._calendars(box, method, rest[1:], query, recorded)
        if rest[0] == "events" and len(rest) >= 2:
            return self._event(box, method, rest[1], rest[2:], recorded)
        return error(400, "BadRequest", "Unsupported request.")

    # -- mail --------------------------------------------------------------------------------

    def _find_folder(self, box: FakeMailbox, key: str) -> FakeFolder | None:
        if key in box.folders:
            return box.folders[key]
        return next((f for f in box.folders.values() if f.well_known and f.well_known == key.lower()), None)

    @staticmethod
    def _folder_json(f: FakeFolder) -> dict[str, Any]:
        return {"id": f.id, "displayName": f.name, "parentFolderId": f.parent, "childFolderCount": 0}

    def _folders(self, box: FakeMailbox, method: str, rest: list[str], query: dict[str, str], rec: Recorded) -> Reply:
        root = next(f for f in box.folders.values() if f.well_known == "msgfolderroot")
        if not rest or (len(rest) == 2 and rest[1] == "childFolders"):
            parent = root if not rest else self._find_folder(box, rest[0])
            if parent is None:
                return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            children = [f for f in box.folders.values() if f.parent == parent.id]
            if method == "POST":
                name = rec.json()["displayName"]
                if any(f.name.lower() == name.lower() for f in children):
                    return error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
                folder = FakeFolder(self.new_id("AQMkFld"), name, parent.id)
                box.folders[folder.id] = folder
                return ok(self._folder_json(folder), 201)
            wanted = _filter_value(query.get("$filter", ""), "displayName")
            found = [f for f in children if wanted is None or f.name.lower() == wanted.lower()]
            return ok({"value": [self._folder_json(f) for f in found]})
        folder = self._find_folder(box, rest[0])
        if folder is None:
            return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if len(rest) == 1 and method == "GET":
            return ok(self._folder_json(folder))
        if rest[1:] == ["messages", "delta"] and method == "GET":
            return self._delta(box, folder, query, rec)
        if rest[1:] == ["messages"] and method == "GET":
            wanted = _filter_value(query.get("$filter", ""), "internetMessageId")
            found = [m for m in self._in(box, folder) if wanted is None or m.internet_id == wanted]
            return ok({"value": [self._message_json(m, False) for m in found]})
        return error(400, "BadRequest", "Unsupported request.")

    def _message_json(self, m: FakeMessage, with_size: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": 'W/"CQAAABYAAAARn2vdzPFjSbaPPxzjlzOTAAASsKZz"',
            "id": m.id,
            "receivedDateTime": m.received.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "internetMessageId": m.internet_id,
            "isDraft": m.is_draft,
            "parentFolderId": m.folder,
        }
        if with_size and self.report_size:
            item["singleValueExtendedProperties"] = [{"id": SIZE_PROPERTY, "value": str(len(m.mime))}]
        return item

    def _delta(self, box: FakeMailbox, folder: FakeFolder, query: dict[str, str], rec: Recorded) -> Reply:
        base = f"{ENDPOINT}/users/{quote(box.address, safe='@')}/mailFolders('{folder.id}')/messages/delta"
        if "$deltatoken" in query:
            since, with_size = _untoken(query["$deltatoken"])
            if since < self.expired_before:
                return error(410, "SyncStateNotFound", "The sync state was not found; resynchronise.")
            offset, start = 0, self.seq
        elif "$skiptoken" in query:
            since, with_size, offset, start = _untoken(query["$skiptoken"], 4)
        else:
            since, with_size, offset, start = -1, SIZE_PROPERTY in query.get("$expand", ""), 0, self.seq
        if since < 0:
            items = [self._message_json(m, with_size) for m in self._in(box, folder)]
        else:
            touched = list(dict.fromkeys(mid for seq, fid, mid in box.changes if seq > since and fid == folder.id))
            items = []
            for mid in touched:
                m = box.messages.get(mid)
                if m is not None and m.folder == folder.id:
                    items.append(self._message_json(m, with_size))
                else:
                    items.append(
                        {"@odata.type": "#microsoft.graph.message", "id": mid, "@removed": {"reason": "deleted"}}
                    )
        page = items[offset : offset + self.page_size]
        body: dict[str, Any] = {"@odata.context": f"{ENDPOINT}/$metadata#Collection(message)", "value": page}
        if offset + self.page_size < len(items):
            token = _token(since, with_size, offset + self.page_size, start)
            body["@odata.nextLink"] = f"{base}?{urlencode({'$skiptoken': token})}"
        else:
            body["@odata.deltaLink"] = f"{base}?{urlencode({'$deltatoken': _token(start, with_size)})}"
        return ok(body)

    @staticmethod
    def _in(box: FakeMailbox, folder: FakeFolder) -> list[FakeMessage]:
        return sorted((m for m in box.messages.values() if m.folder == folder.id), key=lambda m: m.received)

    def _messages(self, box: FakeMailbox, method: str, rest: list[str], query: dict[str, str], rec: Recorded) -> Reply:
        if not rest and method == "POST":
            return self._create(box, rec)
        message = box.messages.get(rest[0]) if rest else None
        if message is None:
            return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if rest[1:] == ["$value"] and method == "GET":
            return 200, {"Content-Type": "text/plain"}, message.mime
        if len(rest) == 1 and method == "GET":
            item = self._message_json(message, False)
            if "internetMessageHeaders" in query.get("$select", ""):
                item["internetMessageHeaders"] = [{"name": k, "value": str(v)} for k, v in message.parsed.items()]
            return ok(item)
        if rest[1:] == ["move"] and method == "POST":
            target = self._find_folder(box, rec.json()["destinationId"])
            if target is None:  # a well-formed id of a folder that is no longer there
                return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            old = message.folder
            immutable = 'IdType="ImmutableId"' in rec.headers.get("Prefer", "")
            if not immutable:  # without the preference, a moved item gets a new id
                del box.messages[message.id]
                message.id = self.new_id()
                box.messages[message.id] = message
                self._changed(box, old, rest[0])
            message.folder = target.id
            self._changed(box, old, message.id)
            self._changed(box, target.id, message.id)
            return ok(self._message_json(message, False), 201)
        if rest[1:] == ["send"] and method == "POST":
            if not message.is_draft:
                return error(400, "ErrorInvalidOperation", "Only drafts can be sent.")
            recipients = _recipients(message.parsed)
            if not recipients:
                return error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
            box.sent.append((recipients, message.mime))
            message.is_draft = False
            self._file(box, message, "outbox")
            self._submitting.append((self.submit_lag, box, message))
            self._submit_some()
            return 202, {}, ""
        if len(rest) == 1 and method == "DELETE":
            del box.messages[message.id]
            self._changed(box, message.folder, message.id)
            return 204, {}, ""
        return error(400, "BadRequest", "Unsupported request.")

    def _create(self, box: FakeMailbox, rec: Recorded) -> Reply:
        """A draft from base64 MIME (our Message-ID becomes its internetMessageId), saved in Drafts."""
        if not rec.headers.get("Content-Type", "").startswith("text/plain"):
            return error(400, "BadRequest", "The fake takes MIME only.")
        try:
            raw = base64.b64decode(rec.body, validate=True)
        except ValueError:
            return error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        drafts = next(f for f in box.folders.values() if f.well_known == "drafts")
        self._clock += timedelta(seconds=1)
        message = FakeMessage(self.new_id(), drafts.id, raw, self._clock, is_draft=True)
        box.messages[message.id] = message
        self._changed(box, drafts.id, message.id)
        return ok(self._message_json(message, False), 201)

    def _send(self, box: FakeMailbox, rec: Recorded) -> Reply:
        if not rec.headers.get("Content-Type", "").startswith("text/plain"):
            return error(400, "BadRequest", "The fake takes MIME only.")
        try:
            raw = base64.b64decode(rec.body, validate=True)
        except ValueError:
            return error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        recipients = _recipients(email.message_from_bytes(raw, policy=default_policy))
        if not recipients:
            return error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        box.sent.append((recipients, raw))
        return 202, {}, ""

    # -- calendar ----------------------------------------------------------------------------

    def _event_json(self, e: FakeEvent, zone_name: str, with_uid: bool) -> dict[str, Any]:
        zone = _zone(zone_name)
        item = {
            "@odata.etag": 'W/"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw=="',
            "id": e.id,
            "subject": e.data.get("subject", ""),
            "start": {
                "dateTime": e.start.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                "timeZone": zone_name,
            },
            "end": {"dateTime": e.end.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name},
            "isCancelled": False,
            "showAs": e.data.get("showAs", "busy"),
            "sensitivity": e.data.get("sensitivity", "normal"),
            "body": {"contentType": "text", "content": (e.data.get("body") or {}).get("content", "")},
            "location": {"displayName": (e.data.get("location") or {}).get("displayName", "")},
            "attendees": [
                {**a, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}
                for a in e.data.get("attendees", [])
            ],
            "organizer": {"emailAddress": {"name": "Strategy Meeting", "address": "strategy.calendar@police.example"}},
            "transactionId": e.transaction_id,
        }
        if with_uid and e.uid is not None:
            item["singleValueExtendedProperties"] = [{"id": e.data["_uid_property"], "value": e.uid}]
        return item

    @staticmethod
    def _prefer_zone(rec: Recorded) -> str:
        found = re.search(r'outlook\.timezone="([^"]+)"', rec.headers.get("Prefer", ""))
        return found.group(1) if found else "UTC"

    def _calendars(self, box: FakeMailbox, method: str, rest: list[str], query: dict[str, str], rec: Recorded) -> Reply:
        if not rest:
            wanted = _filter_value(query.get("$filter", ""), "name")
            found = [
                {"id": cid, "name": name, "canEdit": True, "isDefaultCalendar": False}
                for cid, name in box.calendars.items()
                if wanted is None or name.lower() == wanted.lower()
            ]
            return ok({"value": found})
        cid = rest[0]
        if cid not in box.calendars:
            return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        events = [e for e in box.events.values() if e.calendar == cid]
        zone = self._prefer_zone(rec)
        with_uid = "singleValueExtendedProperties" in query.get("$expand", "")
        if rest[1:] == ["calendarView"] and method == "GET":
            if "$skiptoken" in query:
                start_s, end_s, offset_s = query["$skiptoken"].split("|")
                query = {"startDateTime": start_s, "endDateTime": end_s}
                offset = int(offset_s)
            else:
                offset = 0
            try:
                start = datetime.fromisoformat(query["startDateTime"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(query["endDateTime"].replace("Z", "+00:00"))
            except (KeyError, ValueError):
                return error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")
            if start.tzinfo is None or end.tzinfo is None:
                start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
            view = sorted((e for e in events if e.start < end and e.end > start), key=lambda e: (e.start, e.id))
            page = view[offset : offset + self.page_size]
            body: dict[str, Any] = {"value": [self._event_json(e, zone, with_uid) for e in page]}
            if offset + self.page_size < len(view):
                token = f"{query['startDateTime']}|{query['endDateTime']}|{offset + self.page_size}"
                path = f"/users/{quote(box.address, safe='@')}/calendars/{quote(cid, safe='')}/calendarView"
                body["@odata.nextLink"] = f"{ENDPOINT}{path}?{urlencode({'$skiptoken': token})}"
            return ok(body)
        if rest[1:] == ["events"] and method == "GET":
            wanted = re.search(r"ep/value eq '((?:[^']|'')*)'", query.get("$filter", ""))
            uid = wanted.group(1).replace("''", "'") if wanted else None
            found = [e for e in events if uid is None or e.uid == uid]
            return ok({"value": [self._event_json(e, zone, with_uid) for e in found]})
        if rest[1:] == ["events"] and method == "POST":
            data = rec.json()
            tid = data.get("transactionId")
            if tid:
                same = next((e for e in box.events.values() if e.transaction_id == tid), None)
                if same is not None and self.repeated_transaction == "409":
                    return error(409, "ErrorDuplicateTransactionId", "An item with this transactionId exists.")
                if same is not None and self.repeated_transaction == "400":
                    return error(400, "ErrorInvalidRequest", "The transactionId has already been used.")
                if same is not None:
                    return ok(self._event_json(same, zone, True), 201)
            try:
                start, end = _when(data["start"]), _when(data["end"])
            except (KeyError, ValueError) as exc:
                return error(400, "ErrorInvalidRequest", f"Bad start or end: {exc}")
            eid = self.new_id("AAMkEvt")
            props = data.get("singleValueExtendedProperties") or []
            uid = props[0]["value"] if props else None
            if props:
                data["_uid_property"] = props[0]["id"]
            event = FakeEvent(eid, cid, data, start, end, tid, uid)
            box.events[eid] = event
            return ok(self._event_json(event, zone, True), 201)
        return error(400, "BadRequest", "Unsupported request.")

    def _event(self, box: FakeMailbox, method: str, eid: str, rest: list[str], rec: Recorded) -> Reply:
        event = box.events.get(eid)
        if event is None:
            return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if not rest and method == "PATCH":
            data = rec.json()
            try:
                if "start" in data:
                    event.start = _when(data["start"])
                if "end" in data:
                    event.end = _when(data["end"])
            except (KeyError, ValueError) as exc:
                return error(400, "ErrorInvalidRequest", f"Bad start or end: {exc}")
            event.data.update({k: v for k, v in data.items() if k not in ("start", "end")})
            return ok(self._event_json(event, self._prefer_zone(rec), True))
        if not rest and method == "DELETE":
            del box.events[eid]
            return 204, {}, ""
        if rest == ["cancel"] and method == "POST":
            del box.events[eid]  # moved to Deleted Items: gone from the calendar
            return 202, {}, ""
        return error(400, "BadRequest", "Unsupported request.")


def _recipients(parsed: Any) -> list[str]:
    return [a.addr_spec for name in ("To", "Cc", "Bcc") for h in parsed.get_all(name, []) for a in h.addresses]


def _when(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone as Graph reads it: wall time in the named zone (no offset allowed)."""
    local = datetime.fromisoformat(value["dateTime"])
    if local.tzinfo is not None:
        raise ValueError("dateTime carries an offset; Graph expects wall time and a timeZone")
    return local.replace(tzinfo=_zone(value["timeZone"]))


def _filter_value(text: str, prop: str) -> str | None:
    found = re.search(rf"{prop} eq '((?:[^']|'')*)'", text)
    return found.group(1).replace("''", "'") if found else None


def _token(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _untoken(token: str, count: int = 2) -> Any:
    values = json.loads(base64.urlsafe_b64decode(token.encode()))
    return values[:count] if count > 1 else values[0]


def jwt(claims: dict[str, Any]) -> str:
    """An access token shaped as Entra ID issues it: header.payload.signature, base64url without padding."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.{part('not-a-signature')}"


def _text(body: Any) -> str:
    return body.decode() if isinstance(body, bytes) else str(body or "")


def _token_error(code: str, description: str) -> Reply:
    body = {"error": code, "error_description": description, "error_codes": [int(re.findall(r"\d+", description)[0])]}
    return 401 if code == "invalid_client" else 400, {"Content-Type": "application/json"}, json.dumps(body)
