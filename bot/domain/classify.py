"""Telling one incoming email from another (domain.md §1), and the header facts that needs."""

from __future__ import annotations

import email.policy
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import InvalidHeaderDefect
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

from bot.domain.model import Kind
from bot.domain.trust import looks_like_address

# S47, S.47, S 47, S. 47, S-47, Section 47: the spellings staff use for the Children Act section.
_S47 = r"(?:s[\s.-]*47|section[\s.-]*47)(?!\d)"
# Between the words, any run of spaces or punctuation (``URGENT: S47 ENQUIRY``, ``URGENT - S47``,
# ``URGENT_S47``), but at least one: ``URGENTS47 ENQUIRY`` is a near miss, not the subject.
_GAP = r"[\W_]+"
_ENQUIRY = r"(?:en|in)quir(?:y|ies)"
URGENT_SUBJECT = re.compile(rf"\burgent{_GAP}{_S47}{_GAP}{_ENQUIRY}\b", re.IGNORECASE)
STANDARD_SUBJECT = re.compile(rf"\bstrategy{_GAP}(?:discussion|meeting)s?\b", re.IGNORECASE)
# A near miss (§1): "urgent" at the start of a word (``urgently``, ``URGENTS47``) or an S47
# spelling not part of a longer word or number. "non-urgent" and "not urgent" say the opposite.
_URGENT_WORD = re.compile(r"(?<!non)(?<!non-)(?<!non )(?<!not )\burgent", re.IGNORECASE)
_S47_WORD = re.compile(rf"(?<![a-z0-9]){_S47}", re.IGNORECASE)

_REPLY_WORD = r"(?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:"
# Mail gateways put tags such as "[EXTERNAL]" in front of the subject, before or after "RE:".
_SUBJECT_TAG = r"\[[^\[\]\r\n]{1,40}\]"
_LEADING_PREFIXES = re.compile(rf"^\s*(?:(?:{_REPLY_WORD}|{_SUBJECT_TAG})\s*)+", re.IGNORECASE)
_REPLY_WORD_RE = re.compile(_REPLY_WORD, re.IGNORECASE)
_SUBJECT_TAG_RE = re.compile(_SUBJECT_TAG)

_MSGID = re.compile(r"<[^<>\s]+>")

# Only the auto-reply wordings themselves, followed by ":" or "reply": a person's subject
# may well begin "Out of office hours …".
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(?:(?:automatic|auto)[\s-]*reply\s*:|out\s+of\s+(?:the\s+)?office\s*(?::|reply\b)|autosvar\b|"
    r"abwesenheitsnotiz\b|r[ée]ponse\s+automatique\b)",
    re.IGNORECASE,
)
# Not Exchange's X-MS-Exchange-Inbox-Rules-Loop or X-MS-Exchange-Generated-Message-Source:
# Outlook rules that forward a manager's request set them too, and a request must never be
# ignored. Exchange's own out-of-office replies carry Auto-Submitted.
_OUT_OF_OFFICE_HEADERS = ("X-Autoreply", "X-Autorespond")
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")
_DELIVERY_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_READ_RECEIPT_TYPES = ("message/disposition-notification", "message/global-disposition-notification")
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}")
# RFC 5322 "-0000": the time is UTC, the sender's own zone unknown; Python leaves it naive.
_UNKNOWN_ZONE = re.compile(r"(?<![\d+-])-0000\b")
# A date is a few dozen characters; anything far longer is not worth parsing.
_LONGEST_DATE = 200


@dataclass(frozen=True)
class Classification:
    """What an incoming email is (§1). Whether a reply belongs to an open case needs the store: the service decides."""

    kind: Kind
    is_reply: bool
    auto_reason: str | None


# -- reading headers without ever raising --------------------------------------------------------


def _values(msg: Message, name: str) -> list[str]:
    """Every value of a header, as text; malformed headers read as absent rather than raising."""
    try:
        found = msg.get_all(name) or []
        return [str(value) for value in found]
    except Exception:
        # The email package raises many exception types on hostile headers.
        return []


def _header(msg: Message, name: str) -> str:
    values = _values(msg, name)
    return values[0] if values else ""


def raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as they arrived: the parsed form can hide a second address."""
    try:
        return [str(value) for key, value in msg.raw_items() if key.lower() == name.lower()]
    except Exception:
        return []


def _has(msg: Message, name: str) -> bool:
    try:
        return name in msg
    except Exception:
        return False


def _first_token(value: str) -> str:
    """The keyword of a header such as ``Auto-Submitted: auto-replied; owner-email=…`` or ``(comment)``."""
    return re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()


# -- subjects ---------------------------------------------------------------------------------


def subject_kind(subject: str) -> Kind:
    """§1 steps 3–5: URGENT beats STANDARD; anything else is unrecognised."""
    if URGENT_SUBJECT.search(subject):
        return Kind.URGENT
    if STANDARD_SUBJECT.search(subject):
        return Kind.STANDARD
    return Kind.UNRECOGNISED


def is_near_miss(subject: str) -> bool:
    """§1 near miss: the subject says ``urgent`` or names S47 but is not an URGENT subject.

    It is handled as its subject says, and police are told at once: a live enquiry must
    never wait in a folder because its subject was written a little differently.
    """
    if URGENT_SUBJECT.search(subject):
        return False
    return bool(_URGENT_WORD.search(subject) or _S47_WORD.search(subject))


def _leading_prefixes(subject: str) -> str:
    """The run of reply prefixes and gateway tags at the start, if it holds at least one reply prefix."""
    found = _LEADING_PREFIXES.match(subject)
    if found is None or not _REPLY_WORD_RE.search(_SUBJECT_TAG_RE.sub("", found.group())):
        return ""
    return found.group()


def is_reply_subject(subject: str) -> bool:
    """§1 step 2: the subject starts with a reply or forward prefix (Re:, FW:, AW:, Re[2]: …)."""
    return bool(_leading_prefixes(subject))


def strip_reply_prefixes(subject: str) -> str:
    """The subject without its leading reply and forward prefixes; unchanged when it has none."""
    return subject[len(_leading_prefixes(subject)) :]


# -- threads ----------------------------------------------------------------------------------


def thread_references(msg: EmailMessage) -> list[str]:
    """§1 step 2: Message-IDs named by In-Reply-To then References, as ``<id>``, in order, each once."""
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        for value in _values(msg, name):
            ids = _MSGID.findall(value)
            if not ids:
                # Some clients drop the angle brackets; an id still has its "@".
                ids = [f"<{token}>" for token in value.split() if "@" in token and not set("<>()") & set(token)]
            found += ids
    return list(dict.fromkeys(found))


# -- who sent it ------------------------------------------------------------------------------


def _well_formed(address: str) -> bool:
    if address.count("@") != 1:
        return False
    local, domain = address.split("@")
    return bool(_LOCAL_PART.fullmatch(local) and _DOMAIN.fullmatch(domain))


# The From almost all mail has, unfolded: a name of plain words and the address in angle
# brackets, or the address alone; of letters, digits, ``.``, ``_`` and ``-`` only.
_PLAIN_FROM = re.compile(r"(?:([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) )?<([\w.-]+@[\w.-]+)>|([\w.-]+@[\w.-]+)", re.ASCII)


def sender_address(msg: Message) -> tuple[str | None, str | None]:
    """(display name, lower-cased address) when the one From header holds exactly one well-formed address.

    §7 trusts senders by address, so parsing is strict: the raw header must read as one
    address both to the modern header parser (with no invalid-syntax defect) and to
    ``getaddresses``, and the two must agree; ``"a" <a@x.example>@y.example`` must not
    pass as a@x.example (the CVE-2023-27043 family). Anything else is ``(None, None)``.
    """
    values = raw_values(msg, "From")
    if len(values) != 1:
        return None, None
    raw = " ".join(values[0].split())
    plain = _PLAIN_FROM.fullmatch(raw)
    if plain is not None and _well_formed(address := plain.group(2) or plain.group(3)):
        # Both parsers read such a From as this one address and name, without a defect.
        return _named(plain.group(1) or "", address)
    try:
        parsed = email.policy.default.header_factory("From", raw)
        addresses = list(getattr(parsed, "addresses", ()))
        defects = list(getattr(parsed, "defects", ()))
        pairs = getaddresses([raw])
    except Exception:
        return None, None
    if len(addresses) != 1 or any(isinstance(d, InvalidHeaderDefect) for d in defects):
        return None, None
    # Group syntax (``x: alex.morgan@council.example;``) is no sender's own address.
    if any(group.display_name is not None for group in getattr(parsed, "groups", ())):
        return None, None
    address = str(addresses[0].addr_spec)
    if len(pairs) != 1 or pairs[0][1].lower() != address.lower() or not _well_formed(address):
        return None, None
    return _named(str(addresses[0].display_name), address)


def _named(display_name: str, address: str) -> tuple[str | None, str]:
    name = display_name.strip()
    # ``"b@council.example" <c@evil.example>``: the address is c@evil.example, and a name
    # written as another address is dropped, never shown or used as if it were the sender
    # (Outlook's habit of repeating the sender's own address as the name is kept).
    disguise = looks_like_address(name) and name.strip("'\"").lower() != address.lower()
    return (name if name and not disguise else None), address.lower()


def _from_addresses_loosely(msg: Message) -> set[str]:
    """Every address a From header could be read as: for spotting mail not to answer, reading too much is safe."""
    values = raw_values(msg, "From")
    plain = _PLAIN_FROM.fullmatch(values[0]) if len(values) == 1 else None
    if plain is not None and _well_formed(address := plain.group(2) or plain.group(3)):
        return {address.lower()}  # what getaddresses reads it as too
    try:
        return {address.lower() for _, address in getaddresses(values) if address}
    except Exception:
        return set()


# -- mail not to act on -----------------------------------------------------------------------


def _delivery_report(msg: EmailMessage) -> str | None:
    try:
        parts = [part.get_content_type() for part in msg.walk()]
        report_type = str(msg.get_param("report-type", "") or "").lower()
    except Exception:
        return None
    if any(t in _READ_RECEIPT_TYPES for t in parts) or report_type == "disposition-notification":
        return "read receipt"
    if msg.get_content_type() == "multipart/report" or any(t in _DELIVERY_STATUS_TYPES for t in parts):
        return "delivery status report"
    return None


def auto_generated_reason(msg: EmailMessage, own_addresses: Collection[str]) -> str | None:
    """§1 step 1 (RFC 3834): why this mail must never be answered, or None when a person wrote it.

    Delivery reports are named first: they usually carry ``Auto-Submitted`` and an empty
    return path too, and the service tells the administrator about bounces by this reason.
    ``X-Auto-Response-Suppress`` is not a sign: Outlook sets it on ordinary mail.
    """
    report = _delivery_report(msg)
    if report is not None:
        return report
    senders = _from_addresses_loosely(msg)
    if any(address.split("@", 1)[0] in _BOUNCE_SENDERS for address in senders):
        return "delivery status report"
    if _has(msg, "Auto-Submitted"):
        auto = _first_token(_header(msg, "Auto-Submitted"))
        if auto != "no":
            return f"auto-submitted: {auto or '(empty)'}"
    precedence = _first_token(_header(msg, "Precedence"))
    if precedence in ("bulk", "junk", "list"):
        return f"precedence: {precedence}"
    if any(_has(msg, name) for name in _LIST_HEADERS):
        return "mailing list"
    if any(_has(msg, name) for name in _OUT_OF_OFFICE_HEADERS) or _OUT_OF_OFFICE_SUBJECT.match(_header(msg, "Subject")):
        return "out-of-office reply"
    if _is_meeting_response(msg):
        return "meeting response"
    if any("".join(value.split()) == "<>" for value in raw_values(msg, "Return-Path")):
        return "empty return path"
    own = {address.strip().lower() for address in own_addresses if address.strip()}
    if senders & own:
        return "from the bot's own address"
    for value in _values(msg, "X-Loop"):
        tokens = {token for token in re.split(r"[\s<>,;]+", value.lower()) if token}
        if tokens & own or value.strip().lower() in own:
            return "x-loop: ours"
    return None


_MEETING_RESPONSE_SUBJECT = re.compile(r"^\s*(?:accepted|declined|tentative(?:ly accepted)?)\s*:", re.IGNORECASE)


def _is_meeting_response(msg: EmailMessage) -> bool:
    """An attendee's Accepted / Declined / Tentative answer to the bot's invitation (iTIP REPLY).

    Outlook sends them to the organiser, the bot's own address, with the meeting's subject;
    they must neither open a case nor be answered.
    """
    if _MEETING_RESPONSE_SUBJECT.match(_header(msg, "Subject")):
        return True
    try:
        parts = list(msg.walk())
    except Exception:  # noqa: BLE001 - a hostile MIME tree is someone else's to refuse
        return False
    for part in parts:
        if part.get_content_type() == "text/calendar":
            method = str(part.get_param("method") or "").upper()
            if method in ("REPLY", "COUNTER"):
                return True
    return False


def classify(msg: EmailMessage, own_addresses: Collection[str]) -> Classification:
    """§1: auto-generated first; then the subject decides, after any reply prefixes (URGENT beats STANDARD)."""
    subject = _header(msg, "Subject")
    is_reply = bool(thread_references(msg)) or is_reply_subject(subject)
    reason = auto_generated_reason(msg, own_addresses)
    if reason is not None:
        return Classification(Kind.AUTO, is_reply, reason)
    return Classification(subject_kind(strip_reply_prefixes(subject)), is_reply, None)


# -- when it was sent and received ------------------------------------------------------------


def _parse_date(text: str) -> datetime | None:
    text = " ".join(text.split())
    if not text or len(text) > _LONGEST_DATE:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except Exception:
        # ValueError for most nonsense, but TypeError and IndexError occur too.
        return None
    if moment.tzinfo is None:
        if not _UNKNOWN_ZONE.search(text):
            return None  # no zone at all: the instant cannot be known
        moment = moment.replace(tzinfo=UTC)
    try:
        # A date at the very edge of the calendar cannot be moved to UTC later on.
        moment.astimezone(UTC)
    except OverflowError:
        return None
    return moment


def date_header(msg: EmailMessage) -> datetime | None:
    """§4.1: the Date header as an aware datetime, or None when missing or unparseable; never raises."""
    values = raw_values(msg, "Date")
    return _parse_date(values[0]) if values else None


def topmost_received_time(msg: EmailMessage) -> datetime | None:
    """When the nearest server received the message: the date after the last ``;`` of the first Received header."""
    received = raw_values(msg, "Received")
    if not received or ";" not in received[0]:
        return None
    return _parse_date(received[0].rsplit(";", 1)[1])


# -- DMARC ------------------------------------------------------------------------------------
