"""Telling one incoming email from another (domain.md §1), and the header facts that needs."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

from bot.domain.model import Kind

_S47 = r"(?:s\s*\.?\s*47|section\s+47)"
URGENT_SUBJECT = re.compile(rf"\burgent\s+{_S47}\s+enquiry\b", re.IGNORECASE)
STANDARD_SUBJECT = re.compile(r"\bstrategy\s+(?:discussion|meeting)s?\b", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(?:automatic\s+reply|auto(?:matic)?[\s-]*reply|out\s+of\s+(?:the\s+)?office|autosvar|abwesenheitsnotiz|"
    r"r[ée]ponse\s+automatique)\b",
    re.IGNORECASE,
)
_OOF_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-MS-Exchange-Generated-Message-Source",
    "X-MS-Exchange-Inbox-Rules-Loop",
)
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post", "List-Help")


@dataclass(frozen=True)
class Classification:
    kind: Kind
    is_reply: bool
    auto_reason: str | None


def _header(msg: EmailMessage, name: str) -> str:
    """A header as text; hostile or undecodable headers read as empty rather than raising."""
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - the email library raises many types on malformed headers
        return ""
    return "" if value is None else str(value)


def subject_kind(subject: str) -> Kind:
    """§1 steps 3–5: URGENT beats STANDARD; anything else is unrecognised."""
    if URGENT_SUBJECT.search(subject):
        return Kind.URGENT
    if STANDARD_SUBJECT.search(subject):
        return Kind.STANDARD
    return Kind.UNRECOGNISED


def is_reply_subject(subject: str) -> bool:
    return bool(_REPLY_PREFIX.match(subject))


def strip_reply_prefixes(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject)


def thread_references(msg: EmailMessage) -> list[str]:
    """Message-IDs named by In-Reply-To and References, in order, each once."""
    found = _MSGID.findall(_header(msg, "In-Reply-To") + " " + _header(msg, "References"))
    return list(dict.fromkeys(found))


def _raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as they arrived: the parsed form can hide a second address."""
    try:
        return [str(value) for key, value in msg.raw_items() if key.lower() == name.lower()]
    except Exception:  # noqa: BLE001
        return []


def _decoded(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - an undecodable display name is just left as it came
        return text


def sender_address(msg: Message) -> tuple[str | None, str | None]:
    """(display name, lower-cased address) when there is one From header holding one well-formed address.

    Read from the raw header, not the parsed one: ``"a" <a@x.example>@y.example`` must
    not pass as a@x.example (the CVE-2023-27043 family).
    """
    values = _raw_values(msg, "From")
    if len(values) != 1:
        return None, None
    raw = " ".join(values[0].split())
    if raw.count("@") != 1:
        return None, None
    pairs = getaddresses([raw])
    if len(pairs) != 1:
        return None, None
    name, address = pairs[0]
    local, _, domain = address.partition("@")
    if (
        not local
        or not re.fullmatch(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", domain)
        or re.search(r"[\s<>()\[\],;:\"]", local)
    ):
        return None, None
    return (_decoded(name).strip() or None), address.lower()


def auto_generated_reason(msg: EmailMessage, own_addresses: Collection[str]) -> str | None:
    """§1 step 1: why this mail must never be answered, or None if it is a person's mail."""
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return f"auto-submitted: {auto.split(';')[0]}"
    precedence = _header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"precedence: {precedence}"
    if any(_header(msg, h) for h in _LIST_HEADERS):
        return "mailing list"
    if msg.get_content_type() == "multipart/report" or any(
        part.get_content_type() == "message/delivery-status" for part in msg.walk()
    ):
        return "delivery status report"
    _, address = sender_address(msg)
    if address and address.split("@")[0] in ("mailer-daemon", "postmaster"):
        return "delivery status report"
    if any(_header(msg, h) for h in _OOF_HEADERS) or _OUT_OF_OFFICE_SUBJECT.match(_header(msg, "Subject")):
        return "out-of-office reply"
    if _header(msg, "Return-Path").strip() == "<>":
        return "empty return path"
    own = {a.lower() for a in own_addresses}
    if address and address in own:
        return "from the bot's own address"
    if any(a in _header(msg, "X-Loop").lower() for a in own):
        return "x-loop: ours"
    return None


def classify(msg: EmailMessage, own_addresses: Collection[str]) -> Classification:
    """§1: auto-generated first; then the subject decides, after any reply prefixes."""
    subject = _header(msg, "Subject")
    is_reply = bool(thread_references(msg)) or is_reply_subject(subject)
    reason = auto_generated_reason(msg, own_addresses)
    if reason is not None:
        return Classification(Kind.AUTO, is_reply, reason)
    return Classification(subject_kind(strip_reply_prefixes(subject)), is_reply, None)


def date_header(msg: EmailMessage) -> datetime | None:
    """The Date header as an aware datetime, or None when missing, naive or unparseable."""
    return _parse_date(_header(msg, "Date"))


def topmost_received_time(msg: EmailMessage) -> datetime | None:
    """The time the nearest server received the message: after the last ';' of the first Received."""
    try:
        received = msg.get_all("Received") or []
    except Exception:  # noqa: BLE001
        return None
    if not received:
        return None
    return _parse_date(str(received[0]).rsplit(";", 1)[-1])


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


_AUTH_RESULT = re.compile(r"\b(dmarc|compauth)\s*=\s*([a-z]+)", re.IGNORECASE)
_COMPAUTH_REASON = re.compile(r"\breason\s*=\s*([0-9]{3})", re.IGNORECASE)


def dmarc_passes(msg: EmailMessage, server_id: str) -> bool:
    """§7: an Authentication-Results header from the trusted server shows DMARC passed.

    Exchange Online writes ``compauth=pass reason=1xx`` (or 7xx) when DMARC itself was not
    conclusive but its composite check passed. Headers from any other server id are
    ignored: anyone can write an Authentication-Results header into the mail they send.
    """
    try:
        headers = msg.get_all("Authentication-Results") or []
    except Exception:  # noqa: BLE001
        return False
    for header in headers:
        text = str(header)
        authserv = text.split(";", 1)[0].strip().split()[0].lower() if text.strip() else ""
        if authserv != server_id.lower():
            continue
        for method, result in _AUTH_RESULT.findall(text):
            if method.lower() == "dmarc" and result.lower() == "pass":
                return True
            if method.lower() == "compauth" and result.lower() == "pass":
                reason = _COMPAUTH_REASON.search(text)
                if reason and reason.group(1)[0] in "17":
                    return True
    return False
