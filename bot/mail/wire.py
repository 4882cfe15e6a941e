"""The bot's email as bytes on the wire, written straight from its parts.

The bytes are those the stdlib's compat32 MIME classes (MIMEMultipart, MIMENonMultipart,
MIMEText, MIMEBase with ``encoders.encode_base64``) and its BytesGenerator write for the same
message, header by header and in the same order: the bodies are encoded by the same stdlib
functions and every header is folded by the same policy. Only the objects between are
skipped: building and flattening them cost three quarters of an email's CPU (issue 18).
tests/service/test_wire_bytes.py parses what is written here and has the stdlib write it
again, byte for byte.
"""

from __future__ import annotations

import random
import re
import sys
from base64 import encodebytes
from collections.abc import Sequence
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import encode_rfc2231, format_datetime, formataddr, quote
from typing import Any

from bot.domain.auto_submitted import auto_submitted
from bot.domain.model import Attachment, OutgoingEmail

NL = "\r\n"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators, which some
# parsers (Python's own splitlines among them) treat as line breaks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TOKEN = re.compile("[A-Za-z0-9.+-]+")  # a MIME subtype or parameter the stdlib writes as it is


def header_safe(value: str) -> str:
    """A value fit for a header: one line, control characters gone, runs of spaces made one."""
    return " ".join(_CONTROL.sub(" ", value).split())


class _SmtpCompat32(Compat32):
    """compat32 with CRLF line ends, writing a short printable-ASCII header as it is.

    Such a value is what ``Header.encode`` would give back unchanged (nothing to fold, nothing
    to encode), but the stdlib builds a ``Header`` for every header of every part to find
    that out. Anything longer, with a control character or non-ASCII goes the stdlib's way.
    """

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and len(name) + len(value) + 2 <= (self.max_line_length or 0)
            and value.isascii()
            and value.isprintable()
        ):
            return f"{name}: {value}{self.linesep}"
        return str(super()._fold(name, value, sanitize))  # type: ignore[misc]  # compat32's own, untyped


SMTP_COMPAT = _SmtpCompat32(linesep=NL)
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))
# Quoted-printable keeps the bodies readable in the raw message, and spam filters score
# base64-encoded text bodies as suspicious. Calendar parts are base64 (utf-8's own encoding),
# which keeps the iCalendar's CRLF line ends intact.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
_UTF8 = Charset("utf-8")

Headers = list[tuple[str, str]]


def _boundary() -> str:
    """A multipart boundary in the stdlib's own form (``Generator._make_boundary``).

    The stdlib also checks, with a regular expression compiled per boundary, that no line of
    the parts is the boundary. Every body here is quoted-printable or base64, in which ``=``
    never comes twice in a row (QP writes it ``=3D``; base64 pads with at most two, at the
    end): no body line can hold ``===============``.
    """
    return "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_DIGITS}d}" + "=="


def _param(name: str, value: str | tuple[str, str, str]) -> str:
    """One ``name=value`` parameter as ``Message.add_header`` and ``set_param`` write it."""
    if isinstance(value, tuple):
        return f"{name}*={encode_rfc2231(value[2], value[0], value[1])}"
    if not value:
        return name
    if not value.isascii():
        return f"{name}*={encode_rfc2231(value, 'utf-8', '')}"
    return f'{name}="{quote(value)}"'


def _lines(body: str) -> str:
    """The body with every line end made CRLF, as the generator writes it."""
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    return body.replace("\n", NL)


def _part(headers: Headers, body: str) -> str:
    return "".join(SMTP_COMPAT._fold(name, value, False) for name, value in headers) + NL + _lines(body)


def _multipart(subtype: str, parts: Sequence[str], headers: Sequence[tuple[str, str]] = ()) -> str:
    boundary = _boundary()
    head: Headers = [("Content-Type", f'multipart/{subtype}; boundary="{boundary}"'), ("MIME-Version", "1.0")]
    delimiter = f"{NL}--{boundary}{NL}"
    return _part([*head, *headers], "") + f"--{boundary}{NL}" + delimiter.join(parts) + f"{NL}--{boundary}--{NL}"


# What quoted-printable must write as =XX in a body (email.quoprimime's body map: all but
# printable ASCII other than "=", space, tab, CR and LF).
_QP_UNSAFE = re.compile("[^\t\n\r !-<>-~]")


def _qp(text: str) -> str:
    """``Charset('utf-8')`` with QP's ``body_encode``: ``email.quoprimime.body_encode`` of the UTF-8 octets.

    The same code but for its first step, which maps each character through a 256-entry
    table; here a regular expression finds the few that need quoting.
    """
    body = _QP_UNSAFE.sub(lambda m: f"={ord(m.group()):02X}", text.encode("utf-8").decode("latin-1"))
    encoded: list[str] = []
    append = encoded.append
    for line in body.splitlines():
        # Pieces of at most 75 characters and a soft break, never splitting an =XX.
        start = 0
        laststart = len(line) - 77
        while start <= laststart:
            stop = start + 75
            if line[stop - 2] == "=":
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":
            # Whitespace ending a line is quoted, or kept before a soft break.
            room = start - laststart
            if room >= 3:
                last = f"={ord(line[-1]):02X}"
            elif room == 2:
                last = line[-1] + "=\n"
            else:
                last = f"=\n={ord(line[-1]):02X}"
            append(line[start:-1] + last)
        else:
            append(line[start:])
    if body[-1] in "\r\n":
        append("")
    return "\n".join(encoded)


def _text(text: str, subtype: str) -> str:
    """MIMENonMultipart('text', subtype) given the text in utf-8 quoted-printable."""
    body = _qp(text) if text else ""
    headers: Headers = [
        ("MIME-Version", "1.0"),
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    return _part(headers, body)


def _base64(content_type: str, data: bytes, headers: Headers) -> str:
    """MIMEBase with the data and ``encoders.encode_base64``, then ``headers`` added."""
    body = encodebytes(data).decode("ascii")
    return _part(
        [("Content-Type", content_type), ("MIME-Version", "1.0"), ("Content-Transfer-Encoding", "base64"), *headers],
        body,
    )


def _calendar(attachment: Attachment, subtype: str) -> str:
    """MIMEText(the iCalendar, subtype, 'utf-8') and ``set_param`` for each of the attachment's params."""
    text = attachment.data.decode("utf-8")  # MIMEText takes text: bytes that are not UTF-8 fail here as there
    params = [(header_safe(key), header_safe(value)) for key, value in attachment.params]
    keys = ["charset", *(key.lower() for key, _ in params)]
    plain = all(_TOKEN.fullmatch(key) and _TOKEN.fullmatch(value) for key, value in params)
    if not (plain and _TOKEN.fullmatch(subtype) and len(set(keys)) == len(keys)):
        # Parameters the stdlib would encode, leave bare or merge: let it write the headers.
        part = MIMEText(text, subtype, "utf-8")
        for key, value in params:
            part.set_param(key, value)
        return _part([(name, str(value)) for name, value in part.items()], str(part.get_payload()))
    body = str(_UTF8.body_encode(attachment.data)) if attachment.data else ""
    content_type = "; ".join([f'text/{subtype}; charset="utf-8"', *(f'{k}="{v}"' for k, v in params)])
    headers: Headers = [("MIME-Version", "1.0"), ("Content-Transfer-Encoding", "base64")]
    # set_param moves the Content-Type header to the end when it adds a parameter.
    headers.insert(len(headers) if params else 0, ("Content-Type", content_type))
    return _part(headers, body)


def _html(email: OutgoingEmail) -> str:
    """The HTML body; with the images it shows by ``cid:`` beside it in multipart/related (charts in mail)."""
    html = _text(email.html, "html")
    images = [a for a in email.attachments if a.content_id]
    if not images:
        return html
    parts = [html]
    for attachment in images:
        maintype, _, subtype = attachment.content_type.partition("/")
        content_type = f"{header_safe(maintype) or 'image'}/{header_safe(subtype) or 'png'}"
        filename = header_safe(attachment.filename) or "image"
        disposition = f"inline; {_param('filename', filename)}"
        parts.append(
            _base64(
                content_type,
                attachment.data,
                [("Content-ID", f"<{header_safe(attachment.content_id)}>"), ("Content-Disposition", disposition)],
            )
        )
    return _multipart("related", parts)


def build_message(email: OutgoingEmail, from_name: str, from_address: str, x_loop: str, date: datetime) -> bytes:
    """The email as bytes on the wire (CRLF): threaded, marked automatic, with any invitation in two places.

    Structure: multipart/alternative [text/plain, text/html, text/calendar] inside
    multipart/mixed with the invitation again as an ``invite.ics`` attachment. Every header
    value goes through ``header_safe``, so no CR or LF from a request can add a header.
    """
    alternatives = [_text(email.text, "plain"), _html(email)]
    files: list[str] = []
    for attachment in email.attachments:
        if attachment.content_id:
            continue  # in the HTML part's multipart/related
        maintype, _, subtype = attachment.content_type.partition("/")
        filename = header_safe(attachment.filename) or "attachment"
        if attachment.inline_alternative:
            # Outlook acts on an invitation found as an alternative body part; other clients
            # offer the attached file.
            alternatives.append(_calendar(attachment, subtype or "calendar"))
            maintype, subtype = "application", "ics"
        content_type = f"{header_safe(maintype) or 'application'}/{header_safe(subtype) or 'octet-stream'}"
        name: str | tuple[str, str, str] = filename if filename.isascii() else ("utf-8", "", filename)
        disposition = f"attachment; {_param('filename', name)}"
        files.append(_base64(content_type, attachment.data, [("Content-Disposition", disposition)]))
    headers: Headers = [
        ("From", formataddr((header_safe(from_name), header_safe(from_address)))),
        ("To", ", ".join(header_safe(a) for a in email.to)),
    ]
    if email.cc:
        headers.append(("Cc", ", ".join(header_safe(a) for a in email.cc)))
    headers += [("Subject", _subject(email.subject)), ("Date", format_datetime(date))]
    headers.append(("Message-ID", header_safe(email.message_id)))
    if email.in_reply_to:
        headers.append(("In-Reply-To", header_safe(email.in_reply_to)))
    if email.references:
        headers.append(("References", " ".join(header_safe(r) for r in email.references)))
    # RFC 3834, and Exchange's own switch: no out-of-office or read receipt comes back to us.
    headers += [
        ("Auto-Submitted", auto_submitted(email.purpose, email.in_reply_to)),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Loop", header_safe(x_loop)),
    ]
    if files:
        message = _multipart("mixed", [_multipart("alternative", alternatives), *files], headers)
    else:
        message = _multipart("alternative", alternatives, headers)
    return message.encode("ascii", "surrogateescape")


def _subject(value: str) -> str:
    """ASCII as is; anything else RFC 2047-encoded, so names with accents survive every client."""
    value = header_safe(value)
    # The header's name counts towards the first line's length: without it the encoded
    # value starts on a folded line and parsers read a leading space into the subject.
    return value if value.isascii() else Header(value, "utf-8", header_name="Subject").encode()
