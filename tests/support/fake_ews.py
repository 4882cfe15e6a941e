"""An in-memory Exchange Web Services server for the EWS adapter's tests, behind ``responses``.

It parses the SOAP exchangelib sends and answers with bodies shaped like Microsoft's
documented examples (learn.microsoft.com, "EWS XML elements" and each operation's page):
GetFolder, FindFolder, CreateFolder, FindItem (IndexedPageItemView and CalendarView),
GetItem, CreateItem (Message, CalendarItem, CancelCalendarItem), SendItem, UpdateItem, MoveItem,
DeleteItem, GetServerTimeZones, ResolveNames and GetUserAvailability; and the faults a real
server gives: ErrorServerBusy with BackOffMilliseconds, HTTP 401, impersonation refused, an
answer lost after the work was done (a 504 from a proxy, a dropped connection), a folder
deleted by a person (hard, or into Deleted Items as Outlook does) and made again.

Every request is kept in ``calls`` (operation, parsed body, raw text) so tests assert on
what the adapter sent, not only on what it got back.
"""

from __future__ import annotations

import base64
import email
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import requests
import responses

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NS = {"s": SOAP, "m": M, "t": T}

ENDPOINT = "https://mail.police.example/EWS/Exchange.asmx"
REFERRALS = "referrals@police.example"
CALENDAR_MAILBOX = "strategy.calendar@police.example"

_SERVER_VERSION = (
    '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" '
    'Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)


def _q(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{NS[prefix]}}}{name}"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:  # exchangelib sends UTC; a naive time would be a bug worth seeing
        raise ValueError(f"naive time in request: {text}")
    return value.astimezone(UTC)


@dataclass
class FakeFolder:
    id: str
    mailbox: str
    name: str
    parent_id: str | None
    folder_class: str = "IPF.Note"
    distinguished: str | None = None

    @property
    def element(self) -> str:
        return "CalendarFolder" if self.folder_class == "IPF.Appointment" else "Folder"


@dataclass
class FakeItem:
    id: str
    folder_id: str
    kind: str  # "Message" or "CalendarItem"
    changekey: str = "CQAAABYAAAA="
    # messages
    mime: bytes = b""
    received: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    # calendar items
    subject: str = ""
    body: str = ""
    location: str = ""
    start: datetime | None = None
    end: datetime | None = None
    attendees: list[str] = field(default_factory=list)
    optional: list[str] = field(default_factory=list)
    sensitivity: str = "Normal"
    free_busy: str = "Busy"
    organizer: str = ""
    extended: dict[tuple[str, str], str] = field(default_factory=dict)  # (set id, name) -> value
    cancelled: bool = False
    # messages saved as drafts: the recipients given beside the MIME (ToRecipients, CcRecipients, BccRecipients)
    recipients: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[tuple[str, str]]:
        head = email.message_from_bytes(self.mime, policy=default_policy)
        return [(k, " ".join(str(v).split())) for k, v in head.items()]

    @property
    def message_id(self) -> str:
        return str(email.message_from_bytes(self.mime, policy=default_policy)["Message-ID"] or "")


@dataclass
class SoapCall:
    operation: str
    body: ET.Element  # the operation's element, e.g. m:CreateItem
    text: str
    impersonating: str | None
    authorization: str | None

    def find(self, path: str) -> ET.Element | None:
        return self.body.find(path, NS)

    def findall(self, path: str) -> list[ET.Element]:
        return self.body.findall(path, NS)


@dataclass
class SentMail:
    mime: bytes
    recipients: list[str]
    disposition: str


@dataclass
class MeetingMail:
    kind: str  # "request", "update", "cancel"
    subject: str
    attendees: list[str]
    start: datetime | None
    end: datetime | None


class SoapFault(Exception):
    def __init__(self, code: str, message: str, status: int = 500, extra: str = "") -> None:
        super().__init__(code)
        self.code, self.message, self.status, self.extra = code, message, status, extra


class ItemError(Exception):
    """A per-item error: a response message with ResponseClass="Error"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


class FakeEws:
    """An Exchange server holding two mailboxes: the referral mailbox and the strategy calendar's."""

    def __init__(
        self,
        endpoint: str = ENDPOINT,
        mailboxes: tuple[str, ...] = (REFERRALS, CALENDAR_MAILBOX),
        calendar_name: str = "Strategy Meeting",
        service_account: str = "svc-strategy-bot",
    ) -> None:
        self.endpoint = endpoint
        self.service_account = service_account
        self.calls: list[SoapCall] = []
        self.sent: list[SentMail] = []
        self.meeting_mail: list[MeetingMail] = []
        self.folders: dict[str, FakeFolder] = {}
        self.items: dict[str, FakeItem] = {}
        # Injected answers, taken before the real one: callables returning (status, headers, body) or raising.
        self.next_answers: list[Callable[[], tuple[int, dict[str, str], str]]] = []
        # Edits to the next answer of an operation: (operation, pattern, replacement), used once each.
        self.garbles: list[tuple[str, re.Pattern[str], str]] = []
        # Answers lost after the work was done: (operation, answer), used once each.
        self.lost_answers: list[tuple[str, Callable[[], tuple[int, dict[str, str], str]]]] = []
        # What MoveItem answers for each item when its ToFolderId names a folder that is gone.
        self.to_folder_gone_code = "ErrorItemNotFound"
        self.impersonation_allowed = True
        self.full_access = True
        self._ids = itertools.count(1)
        self._clock = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        for mailbox in mailboxes:
            root = self._folder(mailbox, "root", None, distinguished="root", folder_class="")
            top = self._folder(mailbox, "Top of Information Store", root.id, distinguished="msgfolderroot")
            for name, well_known, cls in (
                ("Inbox", "inbox", "IPF.Note"),
                ("Sent Items", "sentitems", "IPF.Note"),
                ("Deleted Items", "deleteditems", "IPF.Note"),
                ("Drafts", "drafts", "IPF.Note"),
                ("Outbox", "outbox", "IPF.Note"),
                ("Calendar", "calendar", "IPF.Appointment"),
            ):
                self._folder(mailbox, name, top.id, distinguished=well_known, folder_class=cls)
        if calendar_name and mailboxes:
            self.add_calendar(mailboxes[-1], calendar_name)

    # -- setting the scene ------------------------------------------------------------------------

    def _new_id(self, kind: str) -> str:
        n = next(self._ids)
        return base64.b64encode(f"AAMk{kind}{n:08d}".encode()).decode()

    def _folder(
        self,
        mailbox: str,
        name: str,
        parent: str | None,
        distinguished: str | None = None,
        folder_class: str = "IPF.Note",
    ) -> FakeFolder:
        folder = FakeFolder(self._new_id("Fold"), mailbox, name, parent, folder_class, distinguished)
        self.folders[folder.id] = folder
        return folder

    def add_calendar(self, mailbox: str, name: str) -> FakeFolder:
        return self._folder(mailbox, name, self.well_known(mailbox, "calendar").id, folder_class="IPF.Appointment")

    def well_known(self, mailbox: str, name: str) -> FakeFolder:
        for f in self.folders.values():
            if f.mailbox == mailbox and f.distinguished == name:
                return f
        raise KeyError(f"{mailbox}/{name}")

    def folder_named(self, mailbox: str, name: str) -> FakeFolder | None:
        for f in self.folders.values():
            if f.mailbox == mailbox and f.name == name:
                return f
        return None

    def deliver(self, raw: bytes, mailbox: str = REFERRALS) -> str:
        """Put a message in a mailbox's Inbox, received one second after the last."""
        self._clock += timedelta(seconds=1)
        item = FakeItem(self._new_id("Mess"), self.well_known(mailbox, "inbox").id, "Message", mime=raw)
        item.received = self._clock
        self.items[item.id] = item
        return item.id

    def add_event(
        self,
        start: datetime,
        end: datetime,
        subject: str = "Team meeting",
        mailbox: str = CALENDAR_MAILBOX,
        calendar: str = "Strategy Meeting",
        free_busy: str = "Busy",
    ) -> str:
        """An event made by hand in Outlook: no bot uid on it; ``free_busy`` is how it shows (Free, Busy, OOF...)."""
        folder = self.folder_named(mailbox, calendar)
        assert folder is not None
        item = FakeItem(
            self._new_id("Cale"),
            folder.id,
            "CalendarItem",
            subject=subject,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
            organizer=mailbox,
            free_busy=free_busy,
        )
        self.items[item.id] = item
        return item.id

    def delete_folder(self, mailbox: str, name: str, hard: bool = False) -> None:
        """A person deletes a folder: into Deleted Items (its id kept, as Outlook does), or for good (``hard``)."""
        folder = self.folder_named(mailbox, name)
        assert folder is not None
        if not hard:
            folder.parent_id = self.well_known(mailbox, "deleteditems").id
            return
        del self.folders[folder.id]
        for item_id in [i.id for i in self.items.values() if i.folder_id == folder.id]:
            del self.items[item_id]

    def messages_in(self, mailbox: str, folder_name: str) -> list[FakeItem]:
        folder = self.folder_named(mailbox, folder_name)
        if folder is None:
            return []
        found = [i for i in self.items.values() if i.folder_id == folder.id]
        return sorted(found, key=lambda i: i.received)

    def calendar_items(self, mailbox: str = CALENDAR_MAILBOX, calendar: str = "Strategy Meeting") -> list[FakeItem]:
        folder = self.folder_named(mailbox, calendar)
        assert folder is not None
        return [i for i in self.items.values() if i.folder_id == folder.id]

    # -- faults -------------------------------------------------------------------------------------

    def busy_once(self, back_off_ms: int) -> None:
        """The next request gets ErrorServerBusy with a BackOffMilliseconds hint (as a SOAP fault, HTTP 500)."""
        fault = SoapFault(
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
            extra=f'<t:Value Name="BackOffMilliseconds">{back_off_ms}</t:Value>',
        )
        self.next_answers.append(lambda: _fault(fault))

    def answer_not_soap(self, status: int = 200, body: str = "", content_type: str = "text/html") -> None:
        """The next request gets what a proxy or a sign-in page in front of Exchange answers: not SOAP."""
        page = body or "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form></form></body></html>"
        self.next_answers.append(lambda: (status, {"Content-Type": content_type}, page))

    def garble(self, operation: str, pattern: str, replacement: str) -> None:
        """The next answer to ``operation`` has ``pattern`` replaced: a server answering something odd."""
        self.garbles.append((operation, re.compile(pattern), replacement))

    def lose_answer(self, operation: str, how: str = "504") -> None:
        """The next ``operation`` is done, then its answer is lost: a proxy's 504 or 503, or the connection dropped."""

        def lost() -> tuple[int, dict[str, str], str]:
            if how == "drop":
                raise requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())")
            status = int(how)
            return (
                status,
                {"Content-Type": "text/html"},
                f"<html><body><h1>{status} Gateway Time-out</h1></body></html>",
            )

        self.lost_answers.append((operation, lost))

    def refuse_login(self, times: int = 100) -> None:
        """The next requests get HTTP 401, as IIS answers a wrong password."""
        for _ in range(times):
            self.next_answers.append(lambda: (401, {"WWW-Authenticate": 'Basic realm="mail.police.example"'}, ""))

    def unreachable(self, times: int = 100) -> None:
        def fail() -> tuple[int, dict[str, str], str]:
            raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")

        for _ in range(times):
            self.next_answers.append(fail)

    # -- the HTTP end -------------------------------------------------------------------------------

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, self.endpoint, callback=self._answer, content_type="text/xml; charset=utf-8")

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    def calls_of(self, operation: str) -> list[SoapCall]:
        return [c for c in self.calls if c.operation == operation]

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        raw = request.body.decode("utf-8") if isinstance(request.body, bytes) else str(request.body)
        envelope = ET.fromstring(raw)
        body = envelope.find("s:Body", NS)
        assert body is not None and len(body), "no SOAP body"
        operation_elem = body[0]
        operation = operation_elem.tag.split("}")[1]
        imp = envelope.find("s:Header/t:ExchangeImpersonation/t:ConnectingSID/t:PrimarySmtpAddress", NS)
        call = SoapCall(
            operation, operation_elem, raw, imp.text if imp is not None else None, request.headers.get("Authorization")
        )
        self.calls.append(call)
        if self.next_answers:
            return self.next_answers.pop(0)()
        try:
            if call.impersonating and not self.impersonation_allowed:
                raise SoapFault(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                )
            handler = getattr(self, f"_op_{operation}", None)
            if handler is None:
                raise SoapFault("ErrorInvalidRequest", f"The fake does not know {operation}")
            text = _envelope(handler(call))
            for garble in [g for g in self.garbles if g[0] == operation]:
                self.garbles.remove(garble)
                text = garble[1].sub(garble[2], text)
            for lost in [g for g in self.lost_answers if g[0] == operation][:1]:
                self.lost_answers.remove(lost)
                return lost[1]()
            return 200, {}, text
        except SoapFault as fault:
            return _fault(fault)

    # -- helpers for the operations ------------------------------------------------------------------

    def _check_access(self, call: SoapCall, mailbox: str) -> None:
        if call.impersonating is None and not self.full_access:
            raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    def _resolve_folder(self, call: SoapCall, elem: ET.Element) -> FakeFolder:
        if elem.tag == _q("t:DistinguishedFolderId"):
            mailbox_elem = elem.find("t:Mailbox/t:EmailAddress", NS)
            mailbox = mailbox_elem.text if mailbox_elem is not None else call.impersonating
            assert mailbox, "a distinguished folder id names its mailbox or comes with impersonation"
            self._check_access(call, mailbox)
            try:
                return self.well_known(mailbox, elem.get("Id", ""))
            except KeyError:
                raise ItemError(
                    "ErrorFolderNotFound", "The specified folder could not be found in the store."
                ) from None
        folder = self.folders.get(elem.get("Id", ""))
        if folder is None:
            raise ItemError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        self._check_access(call, folder.mailbox)
        return folder

    def _folder_xml(self, folder: FakeFolder) -> str:
        children = [f for f in self.folders.values() if f.parent_id == folder.id]
        items = [i for i in self.items.values() if i.folder_id == folder.id]
        parent = f'<t:ParentFolderId Id="{folder.parent_id}" ChangeKey="AQAAAA=="/>' if folder.parent_id else ""
        distinguished = (
            f"<t:DistinguishedFolderId>{folder.distinguished}</t:DistinguishedFolderId>" if folder.distinguished else ""
        )
        unread = "<t:UnreadCount>0</t:UnreadCount>" if folder.element == "Folder" else ""
        return (
            f"<t:{folder.element}>"
            f'<t:FolderId Id="{folder.id}" ChangeKey="AQAAAA=="/>{parent}'
            f"<t:FolderClass>{folder.folder_class}</t:FolderClass>"
            f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{len(items)}</t:TotalCount><t:ChildFolderCount>{len(children)}</t:ChildFolderCount>"
            f"{distinguished}{unread}"
            f"</t:{folder.element}>"
        )

    # -- folders ----------------------------------------------------------------------------------

    def _op_GetFolder(self, call: SoapCall) -> str:
        messages = []
        for elem in call.findall("m:FolderIds/*"):
            try:
                folder = self._resolve_folder(call, elem)
            except ItemError as error:
                messages.append(_error_message("GetFolder", error))
                continue
            messages.append(_ok("GetFolder", f"<m:Folders>{self._folder_xml(folder)}</m:Folders>"))
        return _response("GetFolder", messages)

    def _op_FindFolder(self, call: SoapCall) -> str:
        messages = []
        wanted = call.find("m:Restriction/t:IsEqualTo/t:FieldURIOrConstant/t:Constant")
        for elem in call.findall("m:ParentFolderIds/*"):
            try:
                parent = self._resolve_folder(call, elem)
            except ItemError as error:
                messages.append(_error_message("FindFolder", error))
                continue
            found = [f for f in self.folders.values() if f.parent_id == parent.id]
            if call.body.get("Traversal") == "Deep":
                raise SoapFault("ErrorInvalidRequest", "the fake does not walk folder trees")
            if wanted is not None:
                found = [f for f in found if f.name.casefold() == (wanted.get("Value") or "").casefold()]
            folders = "".join(self._folder_xml(f) for f in found)
            messages.append(
                _ok(
                    "FindFolder",
                    f'<m:RootFolder IndexedPagingOffset="{len(found)}" TotalItemsInView="{len(found)}" '
                    f'IncludesLastItemInRange="true"><t:Folders>{folders}</t:Folders></m:RootFolder>',
                )
            )
        return _response("FindFolder", messages)

    def _op_CreateFolder(self, call: SoapCall) -> str:
        parent_elem = call.find("m:ParentFolderId/*")
        assert parent_elem is not None
        parent = self._resolve_folder(call, parent_elem)
        messages = []
        for elem in call.findall("m:Folders/*"):
            name = elem.findtext("t:DisplayName", default="", namespaces=NS)
            if any(f.parent_id == parent.id and f.name.casefold() == name.casefold() for f in self.folders.values()):
                messages.append(
                    _error_message(
                        "CreateFolder",
                        ItemError("ErrorFolderExists", "A folder with the specified name already exists."),
                    )
                )
                continue
            folder = self._folder(parent.mailbox, name, parent.id)
            messages.append(
                _ok(
                    "CreateFolder",
                    f'<m:Folders><t:Folder><t:FolderId Id="{folder.id}" ChangeKey="AQAAAA=="/></t:Folder></m:Folders>',
                )
            )
        return _response("CreateFolder", messages)

    # -- items --------------------------------------------------------------------------------------

    def _wanted(self, call: SoapCall) -> tuple[set[str], set[tuple[str, str]]]:
        uris = {e.get("FieldURI", "") for e in call.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI")}
        extended = {
            (e.get("PropertySetId", "").lower(), e.get("PropertyName", ""))
            for e in call.findall("m:ItemShape/t:AdditionalProperties/t:ExtendedFieldURI")
        }
        return uris, extended

    def _item_xml(self, item: FakeItem, uris: set[str], extended: set[tuple[str, str]]) -> str:
        parts = [f'<t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>']

        def add(uri: str, xml: str) -> None:
            if uri in uris:
                parts.append(xml)

        if item.kind == "Message":
            head = email.message_from_bytes(item.mime, policy=default_policy)
            add(
                "item:MimeContent",
                f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.mime).decode()}</t:MimeContent>',
            )
            add("item:ParentFolderId", f'<t:ParentFolderId Id="{item.folder_id}" ChangeKey="AQAAAA=="/>')
            add("item:ItemClass", "<t:ItemClass>IPM.Note</t:ItemClass>")
            add("item:Subject", f"<t:Subject>{escape(str(head['Subject'] or ''))}</t:Subject>")
            add("item:DateTimeReceived", f"<t:DateTimeReceived>{_utc(item.received)}</t:DateTimeReceived>")
            add("item:Size", f"<t:Size>{len(item.mime)}</t:Size>")
            headers = "".join(
                f"<t:InternetMessageHeader HeaderName={quoteattr(k)}>{escape(v)}</t:InternetMessageHeader>"
                for k, v in item.headers
            )
            add("item:InternetMessageHeaders", f"<t:InternetMessageHeaders>{headers}</t:InternetMessageHeaders>")
            add("message:InternetMessageId", f"<t:InternetMessageId>{escape(item.message_id)}</t:InternetMessageId>")
            return f"<t:Message>{''.join(parts)}</t:Message>"

        assert item.start is not None and item.end is not None
        add("item:ParentFolderId", f'<t:ParentFolderId Id="{item.folder_id}" ChangeKey="AQAAAA=="/>')
        add("item:ItemClass", "<t:ItemClass>IPM.Appointment</t:ItemClass>")
        add("item:Subject", f"<t:Subject>{escape(item.subject)}</t:Subject>")
        add("item:Sensitivity", f"<t:Sensitivity>{item.sensitivity}</t:Sensitivity>")
        add("item:Body", f'<t:Body BodyType="Text">{escape(item.body)}</t:Body>')
        for set_id, name in sorted(extended):
            value = item.extended.get((set_id, name))
            if value is not None:
                parts.append(
                    f'<t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="{set_id}" PropertyName="{name}" '
                    f'PropertyType="String"/><t:Value>{escape(value)}</t:Value></t:ExtendedProperty>'
                )
        add("calendar:Start", f"<t:Start>{_utc(item.start)}</t:Start>")
        add("calendar:End", f"<t:End>{_utc(item.end)}</t:End>")
        add("calendar:IsCancelled", f"<t:IsCancelled>{'true' if item.cancelled else 'false'}</t:IsCancelled>")
        add("calendar:LegacyFreeBusyStatus", f"<t:LegacyFreeBusyStatus>{item.free_busy}</t:LegacyFreeBusyStatus>")
        add("calendar:Location", f"<t:Location>{escape(item.location)}</t:Location>")
        add(
            "calendar:Organizer",
            f"<t:Organizer>{_mailbox_xml(item.organizer)}</t:Organizer>",
        )
        for uri, tag, people in (
            ("calendar:RequiredAttendees", "RequiredAttendees", item.attendees),
            ("calendar:OptionalAttendees", "OptionalAttendees", item.optional),
        ):
            if people:
                attendees = "".join(
                    f"<t:Attendee>{_mailbox_xml(a)}<t:ResponseType>Unknown</t:ResponseType></t:Attendee>"
                    for a in people
                )
                add(uri, f"<t:{tag}>{attendees}</t:{tag}>")
        add("calendar:CalendarItemType", "<t:CalendarItemType>Single</t:CalendarItemType>")
        return f"<t:CalendarItem>{''.join(parts)}</t:CalendarItem>"

    def _item(self, call: SoapCall, elem: ET.Element) -> FakeItem:
        item = self.items.get(elem.get("Id", ""))
        if item is None:
            raise ItemError("ErrorItemNotFound", "The specified object was not found in the store.")
        self._check_access(call, self.folders[item.folder_id].mailbox)
        return item

    def _matches(self, item: FakeItem, restriction: ET.Element | None) -> bool:
        if restriction is None:
            return True
        node = restriction[0]
        return self._test(item, node)

    def _test(self, item: FakeItem, node: ET.Element) -> bool:
        if node.tag == _q("t:And"):
            return all(self._test(item, n) for n in node)
        if node.tag == _q("t:Or"):
            return any(self._test(item, n) for n in node)
        if node.tag == _q("t:Not"):
            return not self._test(item, node[0])
        if node.tag == _q("t:IsEqualTo"):
            target, constant = node[0], node.find("t:FieldURIOrConstant/t:Constant", NS)
            assert constant is not None
            value = constant.get("Value")
            if target.tag == _q("t:ExtendedFieldURI"):
                key = (target.get("PropertySetId", "").lower(), target.get("PropertyName", ""))
                return item.extended.get(key) == value
            if target.get("FieldURI") == "item:Subject":
                return item.subject == value
            if target.get("FieldURI") == "message:InternetMessageId":
                return item.kind == "Message" and item.message_id == value
        raise SoapFault("ErrorInvalidRequest", f"the fake cannot evaluate {ET.tostring(node, encoding='unicode')}")

    def _op_FindItem(self, call: SoapCall) -> str:
        uris, extended = self._wanted(call)
        view = call.find("m:CalendarView")
        paged = call.find("m:IndexedPageItemView")
        restriction = call.find("m:Restriction")
        messages = []
        for elem in call.findall("m:ParentFolderIds/*"):
            try:
                folder = self._resolve_folder(call, elem)
            except ItemError as error:
                messages.append(_error_message("FindItem", error))
                continue
            found = [i for i in self.items.values() if i.folder_id == folder.id and self._matches(i, restriction)]
            if view is not None:
                start, end = _parse_time(view.get("StartDate", "")), _parse_time(view.get("EndDate", ""))
                found = [
                    i for i in found if i.start is not None and i.end is not None and i.start < end and i.end > start
                ]
                found.sort(key=lambda i: i.start or start)
                offset, page = 0, found
            else:
                sort = call.find("m:SortOrder/t:FieldOrder")
                if sort is not None:
                    descending = sort.get("Order") == "Descending"
                    found.sort(key=lambda i: i.received, reverse=descending)
                offset = int(paged.get("Offset", "0")) if paged is not None else 0
                size = int(paged.get("MaxEntriesReturned", "1000")) if paged is not None else 1000
                page = found[offset : offset + size]
            last = offset + len(page) >= len(found)
            items = "".join(self._item_xml(i, uris, extended) for i in page)
            paging = "" if view is not None else f' IndexedPagingOffset="{offset + len(page)}"'
            messages.append(
                _ok(
                    "FindItem",
                    f'<m:RootFolder{paging} TotalItemsInView="{len(found)}" '
                    f'IncludesLastItemInRange="{"true" if last else "false"}">'
                    f"<t:Items>{items}</t:Items></m:RootFolder>",
                )
            )
        return _response("FindItem", messages)

    def _op_GetItem(self, call: SoapCall) -> str:
        uris, extended = self._wanted(call)
        messages = []
        for elem in call.findall("m:ItemIds/*"):
            try:
                item = self._item(call, elem)
            except ItemError as error:
                messages.append(_error_message("GetItem", error))
                continue
            messages.append(_ok("GetItem", f"<m:Items>{self._item_xml(item, uris, extended)}</m:Items>"))
        return _response("GetItem", messages)

    def _op_MoveItem(self, call: SoapCall) -> str:
        to_elem = call.find("m:ToFolderId/*")
        assert to_elem is not None
        try:
            target: FakeFolder | None = self._resolve_folder(call, to_elem)
        except ItemError:
            target = None
        messages = []
        for elem in call.findall("m:ItemIds/*"):
            try:
                item = self._item(call, elem)
                if target is None:
                    # A real server names the missing object, not which one: the item or the folder.
                    raise ItemError(self.to_folder_gone_code, "The specified object was not found in the store.")
            except ItemError as error:
                messages.append(_error_message("MoveItem", error))
                continue
            # An item id names the item in its folder: moved, it is a new id (as on a real server).
            del self.items[item.id]
            item.id, item.folder_id = self._new_id("Mess"), target.id
            self.items[item.id] = item
            messages.append(
                _ok(
                    "MoveItem",
                    f"<m:Items><t:Message>{_item_id(item)}</t:Message></m:Items>",
                )
            )
        return _response("MoveItem", messages)

    def _op_DeleteItem(self, call: SoapCall) -> str:
        messages = []
        cancellations = call.body.get("SendMeetingCancellations", "SendToNone")
        for elem in call.findall("m:ItemIds/*"):
            try:
                item = self._item(call, elem)
            except ItemError as error:
                messages.append(_error_message("DeleteItem", error))
                continue
            if item.kind == "CalendarItem" and cancellations != "SendToNone" and item.attendees:
                self.meeting_mail.append(
                    MeetingMail("cancel", item.subject, list(item.attendees), item.start, item.end)
                )
            if call.body.get("DeleteType") == "MoveToDeletedItems":
                item.folder_id = self.well_known(self.folders[item.folder_id].mailbox, "deleteditems").id
            else:
                del self.items[item.id]
            messages.append(_ok("DeleteItem", ""))
        return _response("DeleteItem", messages)

    def _op_CreateItem(self, call: SoapCall) -> str:
        disposition = call.body.get("MessageDisposition", "SaveOnly")
        invitations = call.body.get("SendMeetingInvitations", "SendToNone")
        saved = call.find("m:SavedItemFolderId/*")
        messages = []
        for elem in call.findall("m:Items/*"):
            kind = elem.tag.split("}")[1]
            try:
                if kind == "Message":
                    messages.append(self._create_message(call, elem, disposition, saved))
                elif kind == "CalendarItem":
                    messages.append(self._create_event(call, elem, invitations, saved))
                elif kind == "CancelCalendarItem":
                    messages.append(self._cancel_event(call, elem))
                else:
                    raise SoapFault("ErrorInvalidRequest", f"the fake cannot create {kind}")
            except ItemError as error:
                messages.append(_error_message("CreateItem", error))
        return _response("CreateItem", messages)

    def _create_message(self, call: SoapCall, elem: ET.Element, disposition: str, saved: ET.Element | None) -> str:
        mime_elem = elem.find("t:MimeContent", NS)
        mime = base64.b64decode(mime_elem.text or "") if mime_elem is not None else b""
        parsed = email.message_from_bytes(mime, policy=default_policy)
        named = [a for _, a in getaddresses([str(v) for k in ("To", "Cc") for v in parsed.get_all(k) or []]) if a]
        extra = [
            e.text or ""
            for tag in ("ToRecipients", "CcRecipients", "BccRecipients")
            for e in elem.findall(f"t:{tag}/t:Mailbox/t:EmailAddress", NS)
        ]
        if disposition in ("SendOnly", "SendAndSaveCopy"):
            self.sent.append(SentMail(mime, list(dict.fromkeys(named + extra)), disposition))
        if disposition == "SendOnly":
            return _ok("CreateItem", "<m:Items/>")
        folder = self._resolve_folder(call, saved) if saved is not None else None
        if folder is None:
            mailbox = call.impersonating or REFERRALS
            folder = self.well_known(mailbox, "sentitems" if disposition == "SendAndSaveCopy" else "drafts")
        item = FakeItem(self._new_id("Mess"), folder.id, "Message", mime=mime, received=self._clock, recipients=extra)
        self.items[item.id] = item
        if disposition == "SendAndSaveCopy":
            return _ok("CreateItem", "<m:Items/>")  # Exchange returns no id when it sends
        return _ok(
            "CreateItem",
            f'<m:Items><t:Message><t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/></t:Message></m:Items>',
        )

    def _op_SendItem(self, call: SoapCall) -> str:
        """A saved draft sent: delivered to its MIME's To and Cc and the recipients given beside it, then moved."""
        saved = call.find("m:SavedItemFolderId/*")
        messages = []
        for elem in call.findall("m:ItemIds/*"):
            try:
                item = self._item(call, elem)
                if item.kind != "Message":
                    raise ItemError("ErrorInvalidItemForOperationSendItem", "The item cannot be sent.")
                parsed = email.message_from_bytes(item.mime, policy=default_policy)
                named = [a for _, a in getaddresses([str(v) for k in ("To", "Cc") for v in parsed.get_all(k) or []])]
                self.sent.append(
                    SentMail(item.mime, list(dict.fromkeys([a for a in named if a] + item.recipients)), "SendItem")
                )
                mailbox = self.folders[item.folder_id].mailbox
                del self.items[item.id]
                if call.body.get("SaveItemToFolder") == "true":
                    target = self._resolve_folder(call, saved) if saved is not None else None
                    item.folder_id = (target or self.well_known(mailbox, "sentitems")).id
                    item.id = self._new_id("Mess")
                    self.items[item.id] = item
            except ItemError as error:
                messages.append(_error_message("SendItem", error))
                continue
            messages.append(_ok("SendItem", ""))
        return _response("SendItem", messages)

    def _create_event(self, call: SoapCall, elem: ET.Element, invitations: str, saved: ET.Element | None) -> str:
        assert saved is not None, "exchangelib names the calendar folder"
        folder = self._resolve_folder(call, saved)
        extended = {}
        for prop in elem.findall("t:ExtendedProperty", NS):
            uri = prop.find("t:ExtendedFieldURI", NS)
            assert uri is not None
            extended[(uri.get("PropertySetId", "").lower(), uri.get("PropertyName", ""))] = prop.findtext(
                "t:Value", default="", namespaces=NS
            )
        item = FakeItem(
            self._new_id("Cale"),
            folder.id,
            "CalendarItem",
            subject=elem.findtext("t:Subject", default="", namespaces=NS),
            body=elem.findtext("t:Body", default="", namespaces=NS),
            location=elem.findtext("t:Location", default="", namespaces=NS),
            start=_parse_time(elem.findtext("t:Start", default="", namespaces=NS)),
            end=_parse_time(elem.findtext("t:End", default="", namespaces=NS)),
            attendees=[
                e.text or "" for e in elem.findall("t:RequiredAttendees/t:Attendee/t:Mailbox/t:EmailAddress", NS)
            ],
            optional=[
                e.text or "" for e in elem.findall("t:OptionalAttendees/t:Attendee/t:Mailbox/t:EmailAddress", NS)
            ],
            sensitivity=elem.findtext("t:Sensitivity", default="Normal", namespaces=NS),
            free_busy=elem.findtext("t:LegacyFreeBusyStatus", default="Busy", namespaces=NS),
            organizer=folder.mailbox,
            extended=extended,
        )
        self.items[item.id] = item
        if invitations != "SendToNone" and item.attendees:
            self.meeting_mail.append(MeetingMail("request", item.subject, list(item.attendees), item.start, item.end))
        return _ok(
            "CreateItem",
            f"<m:Items><t:CalendarItem>{_item_id(item)}</t:CalendarItem></m:Items>",
        )

    def _cancel_event(self, call: SoapCall, elem: ET.Element) -> str:
        ref = elem.find("t:ReferenceItemId", NS)
        assert ref is not None
        item = self._item(call, ref)
        if item.kind != "CalendarItem":
            raise ItemError("ErrorItemNotFound", "The specified object was not found in the store.")
        # The organizer's copy goes to Deleted Items; the attendees get a cancellation.
        self.meeting_mail.append(MeetingMail("cancel", item.subject, list(item.attendees), item.start, item.end))
        item.folder_id = self.well_known(self.folders[item.folder_id].mailbox, "deleteditems").id
        return _ok("CreateItem", "<m:Items/>")

    def _op_UpdateItem(self, call: SoapCall) -> str:
        sending = call.body.get("SendMeetingInvitationsOrCancellations", "SendToNone")
        messages = []
        for change in call.findall("m:ItemChanges/t:ItemChange"):
            id_elem = change.find("t:ItemId", NS)
            assert id_elem is not None
            try:
                item = self._item(call, id_elem)
            except ItemError as error:
                messages.append(_error_message("UpdateItem", error))
                continue
            for update in change.findall("t:Updates/*", NS):
                uri = update.find("t:FieldURI", NS)
                if uri is None:
                    continue
                name = uri.get("FieldURI", "")
                if update.tag == _q("t:DeleteItemField"):
                    self._clear_field(item, name)
                    continue
                value = update.find("t:CalendarItem", NS)
                if update.tag != _q("t:SetItemField") or value is None:
                    continue
                self._set_field(item, name, value)
            item.changekey = base64.b64encode(f"CK{next(self._ids)}".encode()).decode()
            if sending != "SendToNone" and item.attendees:
                self.meeting_mail.append(
                    MeetingMail("update", item.subject, list(item.attendees), item.start, item.end)
                )
            messages.append(
                _ok(
                    "UpdateItem",
                    f'<m:Items><t:CalendarItem><t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/></t:CalendarItem>'
                    "</m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
                )
            )
        return _response("UpdateItem", messages)

    @staticmethod
    def _set_field(item: FakeItem, name: str, value: ET.Element) -> None:
        """One SetItemField of an UpdateItem on a calendar item, as Exchange applies it."""
        if name == "calendar:Start":
            item.start = _parse_time(value.findtext("t:Start", default="", namespaces=NS))
        elif name == "calendar:End":
            item.end = _parse_time(value.findtext("t:End", default="", namespaces=NS))
        elif name == "item:Subject":
            item.subject = value.findtext("t:Subject", default="", namespaces=NS)
        elif name == "item:Body":
            item.body = value.findtext("t:Body", default="", namespaces=NS)
        elif name == "calendar:Location":
            item.location = value.findtext("t:Location", default="", namespaces=NS)
        elif name == "item:Sensitivity":
            item.sensitivity = value.findtext("t:Sensitivity", default="Normal", namespaces=NS)
        elif name == "calendar:LegacyFreeBusyStatus":
            item.free_busy = value.findtext("t:LegacyFreeBusyStatus", default="Busy", namespaces=NS)
        elif name == "calendar:RequiredAttendees":
            path = "t:RequiredAttendees/t:Attendee/t:Mailbox/t:EmailAddress"
            item.attendees = [e.text or "" for e in value.findall(path, NS)]
        elif name == "calendar:OptionalAttendees":
            path = "t:OptionalAttendees/t:Attendee/t:Mailbox/t:EmailAddress"
            item.optional = [e.text or "" for e in value.findall(path, NS)]

    @staticmethod
    def _clear_field(item: FakeItem, name: str) -> None:
        """One DeleteItemField of an UpdateItem: the property is gone."""
        if name == "calendar:Location":
            item.location = ""
        elif name == "item:Body":
            item.body = ""
        elif name == "calendar:RequiredAttendees":
            item.attendees = []
        elif name == "calendar:OptionalAttendees":
            item.optional = []
        elif name in ("calendar:Start", "calendar:End", "item:Subject"):
            raise ItemError("ErrorInvalidPropertyDelete", f"{name} cannot be deleted.")

    # -- the rest exchangelib may ask ---------------------------------------------------------------

    def _op_GetServerTimeZones(self, call: SoapCall) -> str:
        definition = (
            '<t:TimeZoneDefinition Id="GMT Standard Time" Name="(UTC+00:00) Dublin, Edinburgh, Lisbon, London">'
            f'<t:Periods><t:Period Bias="-P0DT0H0M0.0S" Name="Standard" Id="{_RULE}-Standard"/>'
            f'<t:Period Bias="-P0DT1H0M0.0S" Name="Daylight" Id="{_RULE}-Daylight"/></t:Periods>'
            '<t:TransitionsGroups><t:TransitionsGroup Id="0">'
            f'<t:RecurringDayTransition><t:To Kind="Period">{_RULE}-Daylight</t:To>'
            "<t:TimeOffset>P0DT1H0M0.0S</t:TimeOffset><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek>"
            "<t:Occurrence>-1</t:Occurrence></t:RecurringDayTransition>"
            f'<t:RecurringDayTransition><t:To Kind="Period">{_RULE}-Standard</t:To>'
            "<t:TimeOffset>P0DT2H0M0.0S</t:TimeOffset><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek>"
            "<t:Occurrence>-1</t:Occurrence></t:RecurringDayTransition>"
            "</t:TransitionsGroup></t:TransitionsGroups>"
            '<t:Transitions><t:Transition><t:To Kind="Group">0</t:To></t:Transition></t:Transitions>'
            "</t:TimeZoneDefinition>"
        )
        return _response(
            "GetServerTimeZones",
            [_ok("GetServerTimeZones", f"<m:TimeZoneDefinitions>{definition}</m:TimeZoneDefinitions>")],
        )

    def _op_ResolveNames(self, call: SoapCall) -> str:
        name = call.find("m:UnresolvedEntry")
        wanted = (name.text or "") if name is not None else ""
        if "@" not in wanted:
            return _response(
                "ResolveNames",
                [_error_message("ResolveNames", ItemError("ErrorNameResolutionNoResults", "No results were found."))],
            )
        resolution = (
            '<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true">'
            f"<t:Resolution>{_mailbox_xml(wanted)}</t:Resolution></m:ResolutionSet>"
        )
        return _response("ResolveNames", [_ok("ResolveNames", resolution)])

    def _op_GetUserAvailabilityRequest(self, call: SoapCall) -> str:
        """Free/busy of the mailboxes asked; times in the request's time zone, which here is always London's."""
        window = call.find("t:FreeBusyViewOptions/t:TimeWindow")
        assert window is not None
        start, end = (
            _parse_time(_with_zone(window.findtext(f"t:{name}", default="", namespaces=NS)))
            for name in ("StartTime", "EndTime")
        )
        answers = []
        for mailbox in call.findall("m:MailboxDataArray/t:MailboxData/t:Email/t:Address"):
            busy = [
                (i.start, i.end, i.free_busy)
                for i in self.items.values()
                if i.kind == "CalendarItem"
                and self.folders[i.folder_id].mailbox == mailbox.text
                and i.start is not None
                and i.end is not None
                and i.start < end
                and i.end > start
            ]
            events = "".join(
                f"<t:CalendarEvent><t:StartTime>{_london(s)}</t:StartTime><t:EndTime>{_london(e)}</t:EndTime>"
                f"<t:BusyType>{kind}</t:BusyType></t:CalendarEvent>"
                for s, e, kind in busy
            )
            answers.append(
                '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Success">'
                "<m:ResponseCode>NoError</m:ResponseCode>"
                "</m:ResponseMessage><m:FreeBusyView><t:FreeBusyViewType>Detailed</t:FreeBusyViewType>"
                f"<t:CalendarEventArray>{events}</t:CalendarEventArray></m:FreeBusyView></m:FreeBusyResponse>"
            )
        return (
            f'<m:GetUserAvailabilityResponse xmlns:m="{M}" xmlns:t="{T}">'
            f"<m:FreeBusyResponseArray>{''.join(answers)}</m:FreeBusyResponseArray>"
            "</m:GetUserAvailabilityResponse>"
        )


def _with_zone(text: str) -> str:
    return text if text.endswith("Z") or "+" in text[10:] or "-" in text[10:] else text + "+00:00"


def _london(value: datetime) -> str:
    return value.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%dT%H:%M:%S")


# -- SOAP text -------------------------------------------------------------------------------------


_RULE = "trule:Microsoft/Registry/GMT Standard Time/2006"


def _item_id(item: FakeItem) -> str:
    return f'<t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/>'


def _mailbox_xml(address: str) -> str:
    return (
        f"<t:Mailbox><t:Name>{escape(address.split('@')[0])}</t:Name><t:EmailAddress>{escape(address)}</t:EmailAddress>"
        "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>"
    )


def _ok(operation: str, content: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{content}</m:{operation}ResponseMessage>"
    )


def _error_message(operation: str, error: ItemError) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(error.message)}</m:MessageText>'
        f"<m:ResponseCode>{error.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage>"
    )


def _response(operation: str, messages: list[str]) -> str:
    return (
        f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}">'
        f"<m:ResponseMessages>{''.join(messages)}</m:ResponseMessages></m:{operation}Response>"
    )


def _envelope(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>{_SERVER_VERSION}</s:Header>'
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"{body}</s:Body></s:Envelope>"
    )


def _fault(fault: SoapFault) -> tuple[int, dict[str, str], str]:
    """A SOAP fault as Exchange sends it (HTTP 500), e.g. the throttling example of "EWS throttling in Exchange"."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{T}">a:{fault.code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(fault.message)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{E}">{fault.code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E}">{escape(fault.message)}</e:Message>'
        f'<t:MessageXml xmlns:t="{T}">{fault.extra}</t:MessageXml>'
        "</detail></s:Fault></s:Body></s:Envelope>"
    )
    return fault.status, {}, body
