"""The readable text of an email: its MIME tree walked, plain text preferred, HTML read as text, files skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from bot.domain.charsets import decoded_text
from bot.domain.html_text import html_to_text, squash

# Deeper nesting than this is hostile; the service's MIME limits normally stop it first.
_MAX_DEPTH = 30


@dataclass(frozen=True)
class MessageText:
    """What a person sees in an email: its text, and the (label, value) rows of its HTML tables."""

    plain: str
    table_rows: tuple[tuple[str, str], ...]


@dataclass
class _Rendered:
    texts: list[str] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)
    from_plain: bool = False

    def text(self) -> str:
        return "\n\n".join(t for t in self.texts if t.strip())


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        return squash(str(value)) if value is not None else ""
    except Exception:  # noqa: BLE001 - the email package raises many types on hostile headers
        return ""


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:  # noqa: BLE001
        return True


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:  # noqa: BLE001
        return []
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _render(part: Message, depth: int) -> _Rendered:
    if depth > _MAX_DEPTH:
        return _Rendered()
    ctype = _content_type(part)
    if ctype == "message/rfc822":
        # A forwarded email attached whole: shown after the text, as a forward, so the
        # quoted-text markers find where it starts.
        inner = _children(part)
        if not inner:
            return _Rendered()
        body = _render(inner[0], depth + 1)
        heading = ["---------- Forwarded message ---------"] + [
            f"{name}: {value}" for name in ("From", "Date", "Subject", "To") if (value := _header(inner[0], name))
        ]
        body.texts.insert(0, "\n".join(heading))
        return body
    if ctype.startswith("multipart/"):
        children = [_render(child, depth + 1) for child in _children(part)]
        if ctype == "multipart/alternative":
            return _choose_alternative(children)
        merged = _Rendered()
        for child in children:
            merged.texts.extend(child.texts)
            merged.rows.extend(child.rows)
            merged.from_plain = merged.from_plain or child.from_plain
        return merged
    if _is_attachment(part):
        # An attached file is a document, not the email: a chronology could carry other
        # children's N numbers.
        return _Rendered()
    if ctype == "text/plain":
        return _Rendered([decoded_text(part).replace("\r\n", "\n").replace("\r", "\n")], [], True)
    if ctype == "text/html":
        text, rows = html_to_text(decoded_text(part))
        return _Rendered([text], rows, False)
    return _Rendered()


def _choose_alternative(children: list[_Rendered]) -> _Rendered:
    """The plain-text alternative when it has text, else the first that has; rows from the HTML."""
    with_text = [c for c in children if c.text().strip()]
    chosen = next((c for c in with_text if c.from_plain), with_text[0] if with_text else _Rendered())
    rows = next((c.rows for c in children if c.rows), [])
    return _Rendered(list(chosen.texts), list(rows), chosen.from_plain)


def message_text(msg: Message) -> MessageText:
    """The readable body (domain.md §2): text/plain preferred, else the HTML as text; never raises.

    ``msg`` is parsed with ``email.policy.default``. Forwarded messages attached as
    message/rfc822 follow the body, after a forwarded-message line; other attachments are
    skipped. ``table_rows`` are the two-cell rows of every HTML table, even when the plain
    alternative was used for the text, because Outlook's plain rendering of a Word template
    table loses the pairing.
    """
    try:
        rendered = _render(msg, 0)
    except Exception:  # noqa: BLE001 - a hostile MIME tree yields what it can: nothing
        return MessageText("", ())
    plain = "\n\n".join(t.strip("\n") for t in rendered.texts if t.strip())
    return MessageText(plain=plain, table_rows=tuple(rendered.rows))
