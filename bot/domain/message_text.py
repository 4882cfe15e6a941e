"""The readable text of an email, whatever its charset, encoding or HTML, and its two-cell table rows."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote

# Deeper nesting than this is hostile; the service's MIME limits normally stop it first.
_MAX_DEPTH = 30

_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "caption",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "ul",
    }
)
_SKIP = frozenset({"style", "script", "head", "title", "xml", "template", "noscript", "object"})
_CELL = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_WIDE_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2007\u202f\u200b]+")
# Single-byte labels that mail clients put on text which is really windows-1252 or UTF-8.
_WESTERN = frozenset({"ascii", "latin-1", "iso8859-1", "iso8859-15", "cp1252"})


@dataclass(frozen=True)
class MessageText:
    """What a person sees in an email: its text, and the (label, value) rows of its HTML tables."""

    plain: str
    table_rows: tuple[tuple[str, str], ...]


# -- decoding -----------------------------------------------------------------------------------


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


# -- HTML ---------------------------------------------------------------------------------------


@dataclass
class _Table:
    row: list[str] | None = None
    cell: list[str] | None = None


@dataclass
class _Link:
    address: str
    text: list[str] = field(default_factory=list)


class _HtmlReader(HTMLParser):
    """HTML to lines of text, as a mail client shows it.

    Block elements and ``<br>`` end lines; each table row becomes one line with its non-empty
    cells joined by " | " (so "Label | Value" survives), and rows of exactly two non-empty
    cells are kept as (label, value) pairs. A table nested in a cell is a layout table: the
    outer row gives up being a row and its text flows as ordinary lines.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.rows: list[tuple[str, str]] = []
        self._skip: list[str] = []
        self._tables: list[_Table] = []
        self._links: list[_Link] = []
        self._pre = 0

    # where text goes: the innermost open cell, else the document
    def _emit(self, text: str) -> None:
        if self._links:
            self._links[-1].text.append(text)
        table = self._tables[-1] if self._tables else None
        if table is not None and table.cell is not None:
            table.cell.append(text)
        else:
            self.out.append(text)

    def _line_break(self, always: bool = False) -> None:
        table = self._tables[-1] if self._tables else None
        if table is not None and table.cell is not None:
            table.cell.append("\n")
        elif always or (self.out and not self.out[-1].endswith("\n")):
            self.out.append("\n")

    def _close_cell(self, table: _Table) -> None:
        if table.cell is not None and table.row is not None:
            table.row.append(_squash("".join(table.cell)))
        table.cell = None

    def _close_row(self, table: _Table) -> None:
        self._close_cell(table)
        if table.row is None:
            return
        cells = [c for c in table.row if c]
        table.row = None
        if len(cells) == 2:
            self.rows.append((cells[0], cells[1]))
        if cells:
            self._line_break()
            self.out.append(" | ".join(cells) + "\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> left open must not swallow the body.
            self._skip = [t for t in self._skip if t != "head"]
        if tag in _SKIP:
            self._skip.append(tag)
            return
        if self._skip:
            return
        if tag == "table":
            if self._tables and self._tables[-1].cell is not None:
                self._break_outer_row(self._tables[-1])
            self._line_break()
            self._tables.append(_Table())
        elif tag == "tr" and self._tables:
            table = self._tables[-1]
            self._close_row(table)
            table.row = []
        elif tag in _CELL and self._tables:
            table = self._tables[-1]
            self._close_cell(table)
            if table.row is None:
                table.row = []
            table.cell = []
        elif tag == "br":
            self._line_break(always=True)
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            address = unquote(href[7:].split("?", 1)[0]).strip() if href.lower().startswith("mailto:") else ""
            self._links.append(_Link(address))
        elif tag == "pre":
            self._pre += 1
            self._line_break()
        elif tag in _BLOCK:
            self._line_break()

    def _break_outer_row(self, table: _Table) -> None:
        pending = [c for c in (table.row or []) if c]
        if table.cell is not None:
            pending.append(_squash("".join(table.cell)))
        table.row = None
        table.cell = None
        text = " | ".join(c for c in pending if c)
        if text:
            self._line_break()
            self.out.append(text + "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if self._skip:
            return
        if tag == "table" and self._tables:
            table = self._tables.pop()
            self._close_row(table)
            self._line_break()
        elif tag == "tr" and self._tables:
            self._close_row(self._tables[-1])
        elif tag in _CELL and self._tables:
            self._close_cell(self._tables[-1])
        elif tag == "a" and self._links:
            link = self._links.pop()
            # A name linked to its address: keep the address, the only part the bot can use.
            if link.address and link.address.lower() not in "".join(link.text).lower():
                self._emit(f" <{link.address}>")
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._line_break()
        elif tag in _BLOCK:
            self._line_break()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = _SPACES.sub(" ", data)
        self._emit(data)

    def finish(self) -> None:
        while self._tables:
            self._close_row(self._tables.pop())


def _squash(text: str) -> str:
    return _WIDE_SPACES.sub(" ", text).strip()


def _tidy_lines(text: str) -> str:
    lines = [_WIDE_SPACES.sub(" ", line.replace("\u00a0", " ")).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def html_to_text(html: str) -> tuple[str, list[tuple[str, str]]]:
    """The text of an HTML body, one line per displayed line, and its two-cell table rows."""
    reader = _HtmlReader()
    try:
        reader.feed(html)
        reader.close()
        reader.finish()
    except Exception:  # noqa: BLE001 - broken HTML still has readable text
        stripped = re.sub(r"(?is)<(style|script|head)\b.*?</\1\s*>", " ", html)
        stripped = re.sub(r"(?i)<\s*(br|/p|/div|/tr|/li)\b[^>]*>", "\n", stripped)
        return _tidy_lines(unescape(re.sub(r"<[^>]*>", " ", stripped))), []
    return _tidy_lines("".join(reader.out)), reader.rows


# -- walking the MIME tree ----------------------------------------------------------------------


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
        return _squash(str(value)) if value is not None else ""
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


# -- the part above the quoted text -------------------------------------------------------------

_QUOTE_LINES = (
    re.compile(r"^\s*>"),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.I),
    re.compile(r"^\s*-{3,}\s*Forwarded message\s*-{3,}", re.I),
    re.compile(r"^\s*Begin forwarded message:", re.I),
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_FROM = re.compile(r"^\s*\**From:\**\s*\S", re.I)
_SENT = re.compile(r"^\s*\**(Sent|Date):", re.I)
_TO = re.compile(r"^\s*\**(To|Subject):", re.I)
_ON = re.compile(r"^\s*On\s")
_WROTE = re.compile(r"\bwrote:\s*$")


def quote_start(lines: Sequence[str]) -> int | None:
    """The index of the line where the quoted or forwarded part of a reply starts, if any (§6)."""
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _QUOTE_LINES):
            return i
        if _UNDERSCORES.match(line):
            following = [x for x in lines[i + 1 : i + 4] if x.strip()]
            if following and _FROM.match(following[0]):
                return i
        if _FROM.match(line):
            window = lines[i + 1 : i + 5]
            if any(_SENT.match(x) for x in window) and any(_TO.match(x) for x in window):
                return i
        if _ON.match(line):
            # "On Mon, 23 Nov 2026 at 09:12, Alex <a@b>\nwrote:" is often wrapped.
            for j in range(i, min(i + 3, len(lines))):
                if j > i and not lines[j].strip():
                    break
                if _WROTE.search(lines[j]):
                    return i
    return None


def strip_quoted(text: str) -> str:
    """Only what was written above the quoted part of a reply (domain.md §6).

    The quoted part starts at the first line beginning with ``>``, an ``-----Original
    Message-----`` or forwarded-message line, an Outlook line of underscores before
    ``From:``, a ``From:`` line followed within four lines by ``Sent:``/``Date:`` and
    ``To:``/``Subject:``, or an ``On … wrote:`` line.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = quote_start(lines)
    return "\n".join(lines if start is None else lines[:start]).strip()
