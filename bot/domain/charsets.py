"""A MIME text part as text, whatever its charset or transfer encoding; never raises."""

from __future__ import annotations

import codecs
from email.message import Message

# Single-byte labels that mail clients put on text which is really windows-1252 or UTF-8.
_WESTERN = frozenset({"ascii", "latin-1", "iso8859-1", "iso8859-15", "cp1252"})


def decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` as text: the declared charset if it fits, else UTF-8, else windows-1252, else latin-1.

    Never raises. A label of latin-1 or ASCII is read as windows-1252 (what Outlook means by
    it, as browsers do), and text so labelled that is valid UTF-8 is read as UTF-8, because
    mislabelled UTF-8 is far more common than latin-1 that happens to be valid UTF-8.
    """
    codec: str | None = None
    try:
        codec = codecs.lookup((charset or "").strip().strip("\"'")).name if charset else None
    except (LookupError, ValueError, TypeError):
        codec = None
    if codec in _WESTERN and not data.isascii():
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            codec = "cp1252" if codec in ("ascii", "latin-1", "iso8859-1") else codec
    for candidate in (codec, "utf-8", "cp1252"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except Exception:  # noqa: BLE001 - LookupError for non-text codecs, UnicodeError, and worse
            continue
    return data.decode("latin-1")


def decoded_text(part: Message) -> str:
    """A text part's content, transfer encoding undone, in any charset; never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - hostile transfer encodings
        payload = None
    if not isinstance(payload, bytes):
        try:
            raw = part.get_payload()
        except Exception:  # noqa: BLE001
            return ""
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001 - a malformed Content-Type parameter
        charset = None
    return decode_bytes(payload, charset)
