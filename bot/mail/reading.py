"""One incoming message read once: everything the service needs from it, as plain picklable data.

The reading runs in the time-limited reader's worker process (``bot.reading_limit``), so it
holds no parsed message, only values; the service decides with them and never parses the
message again.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message

from bot.domain.classify import (
    Classification,
    classify,
    date_header,
    is_near_miss,
    sender_address,
    thread_references,
)
from bot.domain.commands import Command, NotUnderstood, read_command
from bot.domain.dmarc import dmarc_pass_servers
from bot.domain.message_text import message_text
from bot.domain.model import Attachment, Kind, RequestDetails
from bot.domain.n_numbers import find_n_numbers
from bot.domain.quoted_text import strip_quoted
from bot.domain.request_reading import read_request
from bot.domain.responses import MeetingResponse
from bot.domain.urgent_screening import screen_urgent_indicators
from bot.mail.header_cache import message_policy
from bot.mail.limits import nesting_depth_over, over_limits
from bot.mail.meeting_response import read_meeting_response

# What a message too complex to read is taken for: nothing after the shape caps was read.
_NOT_READ = Classification(Kind.UNRECOGNISED, False, None)


@dataclass(frozen=True)
class ReadingLimits:
    """The shape caps of ``inbox.max_headers``, ``max_mime_parts`` and ``max_mime_depth`` (issue 6)."""

    max_headers: int
    max_mime_parts: int
    max_mime_depth: int


@dataclass(frozen=True)
class TooSlow:
    """The message did not read within ``inbox.parse_seconds``: it is quarantined unread."""

    reason: str


@dataclass(frozen=True)
class MessageReading:
    """What one message says, read as the service reads it (domain.md §1, §2, §6, §7).

    Only what the service can use is read: nothing after ``too_complex`` when that is set;
    only ``message_id`` and ``verdict`` for automatic mail; ``request`` and
    ``urgent_indicators`` for an URGENT or STANDARD subject; ``top``, ``command``,
    ``reply_request`` and ``has_attachment`` for a reply. The rest keep their defaults.
    """

    # The Message-ID as ``<id>``, control characters and spaces removed; None when absent.
    message_id: str | None
    # Why the message is too large in shape to read (the ``over_limits`` reason), or None.
    too_complex: str | None = None
    verdict: Classification = _NOT_READ
    # From, read strictly (§7): both None unless it holds exactly one well-formed address.
    sender_name: str | None = None
    sender_address: str | None = None
    subject: str = ""
    # In-Reply-To then References, as ``<id>``, each once.
    thread_references: tuple[str, ...] = ()
    date_header: datetime | None = None
    # The authserv-ids (lower case) whose topmost Authentication-Results header shows DMARC
    # passed: ask with ``dmarc_passes``.
    dmarc_pass_servers: frozenset[str] = frozenset()
    # The request template's fields, for an URGENT or STANDARD subject.
    request: RequestDetails | None = None
    # The urgent-threshold codes (``URGENT_CRITERIA``) the request's reason and text describe.
    urgent_indicators: tuple[str, ...] = ()
    # The readable body; ``top`` is what was written above the quoted text.
    plain: str = ""
    top: str = ""
    # The command word on the first line of a reply's own text, if any.
    command: Command | NotUnderstood | None = None
    # The template fields written above the quoted text of a reply: what it supplies.
    reply_request: RequestDetails | None = None
    has_attachment: bool = False
    # A reply's attached files (name, type and bytes, as sent): the minutes the bot sends on (§5).
    attachments: tuple[Attachment, ...] = ()
    # §1 near miss: the subject says "urgent" or names S47 but is not an URGENT subject; and
    # the N numbers it names (subject, then text), for the police alert.
    near_miss: bool = False
    near_miss_n_numbers: tuple[str, ...] = ()
    # An attendee's Accepted / Declined answer to the bot's invitation (automatic mail, §3.6).
    meeting_response: MeetingResponse | None = None

    def dmarc_passes(self, server_id: str) -> bool:
        """§7: the trusted server ``server_id`` says DMARC passed, exactly as ``classify.dmarc_passes`` decides."""
        return server_id.strip().lower() in self.dmarc_pass_servers


def read_message(raw: bytes, own_addresses: Collection[str], limits: ReadingLimits) -> MessageReading:
    """Parse ``raw`` once and read from it everything the service may need.

    Pure and picklable both ways, so that it can run in a worker process under a time limit.
    It raises what the readings it calls raise on a message they cannot read; the service
    quarantines such a message.
    """
    if nesting_depth_over(raw, limits.max_mime_depth):
        # Refused before the parser, which would run out of stack on it: the headers alone
        # still give its Message-ID, so a second delivery is known and the notice names it.
        return MessageReading(_message_id(_headers(raw)), too_complex=_too_deep(limits))
    try:
        # email.policy.default, each header parsed once however often it is read.
        msg = email.message_from_bytes(raw, policy=message_policy())
    except RecursionError:  # nesting the line scan cannot see (message/rfc822 inside parts)
        return MessageReading(_message_id(_headers(raw)), too_complex=_too_deep(limits))
    assert isinstance(msg, EmailMessage)
    message_id = _message_id(msg)
    too_complex = over_limits(msg, limits.max_headers, limits.max_mime_parts, limits.max_mime_depth)
    if too_complex:
        return MessageReading(message_id, too_complex=too_complex)
    verdict = classify(msg, own_addresses)
    if verdict.kind is Kind.AUTO:
        if verdict.auto_reason == "meeting response":
            return _meeting_response(msg, message_id, verdict)
        return MessageReading(message_id, verdict=verdict)
    sender = sender_address(msg)
    name, address = sender
    is_request = verdict.kind in (Kind.URGENT, Kind.STANDARD)
    text = message_text(msg) if is_request or verdict.is_reply else None
    plain = text.plain if text is not None else ""
    request = read_request(msg, verdict.kind, text=text, sender=sender) if is_request else None
    indicators: tuple[str, ...] = ()
    if request is not None:
        indicators = tuple(screen_urgent_indicators("\n".join(filter(None, [request.reason, plain]))))
    top = strip_quoted(plain) if verdict.is_reply else ""
    subject = _subject(msg)
    near_miss = is_near_miss(subject)
    near_miss_numbers: tuple[str, ...] = ()
    if near_miss:
        body = plain or (text or message_text(msg)).plain
        seen = request.n_numbers if request else find_n_numbers(subject + "\n" + body)
        near_miss_numbers = tuple(seen)
    return MessageReading(
        message_id,
        verdict=verdict,
        sender_name=name,
        sender_address=address,
        subject=subject,
        thread_references=tuple(thread_references(msg)),
        date_header=date_header(msg),
        dmarc_pass_servers=dmarc_pass_servers(msg, address),
        request=request,
        urgent_indicators=indicators,
        plain=plain,
        top=top,
        command=read_command(top) if verdict.is_reply else None,
        # ``read_request`` reads both routes alike today; a reply is read as the template.
        reply_request=read_request(_top_part(msg, top), Kind.STANDARD) if verdict.is_reply else None,
        has_attachment=_has_attachment(msg) if verdict.is_reply else False,
        attachments=_attachments(msg) if verdict.is_reply else (),
        near_miss=near_miss,
        near_miss_n_numbers=near_miss_numbers,
    )


def _meeting_response(msg: EmailMessage, message_id: str | None, verdict: Classification) -> MessageReading:
    """An attendee's answer: who answered what, and the thread it answers (§3.6)."""
    _, address = sender_address(msg)
    return MessageReading(
        message_id,
        verdict=verdict,
        sender_address=address,
        subject=_subject(msg),
        thread_references=tuple(thread_references(msg)),
        dmarc_pass_servers=dmarc_pass_servers(msg, address),
        meeting_response=read_meeting_response(msg, address),
    )


def _headers(raw: bytes) -> Message:
    return email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)


def _too_deep(limits: ReadingLimits) -> str:
    return f"MIME nested more than {limits.max_mime_depth} levels deep"


def message_id_of(msg: Message) -> str | None:
    """The Message-ID as the service records it (``<id>``, spaces and control characters removed)."""
    return _message_id(msg)


def _message_id(msg: Message) -> str | None:
    value = str(msg.get("Message-ID", "") or "").strip()
    value = "".join(ch for ch in value if ch.isprintable() and not ch.isspace())
    if not value:
        return None
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def _subject(msg: Message) -> str:
    try:
        return str(msg.get("Subject", "") or "")
    except Exception:  # noqa: BLE001 - the email package raises many types on hostile headers
        return ""


def _top_part(msg: EmailMessage, top: str) -> EmailMessage:
    """A copy of a reply holding only what was written above the quoted text (§6)."""
    part = EmailMessage(policy=msg.policy)  # its headers parsed once too
    for header in ("From", "Subject"):
        if msg.get(header):
            part[header] = str(msg[header])
    part.set_content(top or "\n")
    return part


def _has_attachment(msg: EmailMessage) -> bool:
    return any(part.get_filename() for part in msg.walk() if not part.is_multipart())


def _attachments(msg: EmailMessage) -> tuple[Attachment, ...]:
    """Every named part of a reply, its bytes decoded from the transfer encoding, unchanged otherwise."""
    files = []
    for part in msg.walk():
        name = part.get_filename() if not part.is_multipart() else None
        if name:
            data = part.get_payload(decode=True)
            files.append(Attachment(name, part.get_content_type(), data if isinstance(data, bytes) else b""))
    return tuple(files)
