"""The readable text of an email, whatever its charset, encoding or HTML, and its two-cell table rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from html import unescape
from html.parser import HTMLParser

_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr"}
_SKIP = {"style", "script", "head", "title", "xml"}


@dataclass(frozen=True)
class MessageText:
    plain: str
    table_rows: tuple[tuple[str, str], ...]


class _HtmlReader(HTMLParser):
    """HTML to lines of text; table cells joined with " | ", two-cell rows kept as pairs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.rows: list[tuple[str, str]] = []
        self._skip = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._depth_tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "table":
            self._depth_tables += 1
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        if tag in _BLOCK and self._cell is None:
            self.parts.append("\n")
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._cell is not None:
            text = _squash("".join(self._cell))
            if self._row is not None:
                self._row.append(text)
            self.parts.append(text + " | ")
            self._cell = None
        elif tag == "tr" and self._row is not None:
            cells = [c for c in self._row if c]
            if len(cells) == 2:
                self.rows.append((cells[0], cells[1]))
            self._row = None
            self.parts.append("\n")
        elif tag == "table":
            self._depth_tables = max(0, self._depth_tables - 1)
        if tag in _BLOCK and tag not in ("tr", "br"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
        else:
            self.parts.append(data)


def _squash(text: str) -> str:
    return re.sub(r"[ \t\u00a0\r\n]+", " ", text).strip()


def html_to_text(html: str) -> tuple[str, list[tuple[str, str]]]:
    """The text of an HTML body (lines preserved) and its two-cell table rows."""
    reader = _HtmlReader()
    try:
        reader.feed(html)
        reader.close()
    except Exception:  # noqa: BLE001 - malformed HTML still has readable text
        return _squash(re.sub(r"<[^>]+>", " ", unescape(html))), []
    text = "".join(reader.parts).replace("\u00a0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip().rstrip("|").strip() for line in text.splitlines()]
    collapsed = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", collapsed).strip(), reader.rows


def decoded_text(part: Message) -> str:
    """A text part's content in any charset; a wrong or unknown label falls back, never raises."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    # windows-1252 is what Outlook means by "latin-1" most of the time.
    try:
        return payload.decode("cp1252")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def _text_parts(msg: Message) -> tuple[list[str], list[str]]:
    plains: list[str] = []
    htmls: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = (part.get("Content-Disposition") or "").lower()
        if disposition.startswith("attachment") and part.get_content_maintype() == "text" and part.get_filename():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            plains.append(decoded_text(part))
        elif ctype == "text/html":
            htmls.append(decoded_text(part))
    return plains, htmls


def message_text(msg: EmailMessage | Message) -> MessageText:
    """The readable body: plain text parts if any, else the HTML as text; table rows from any HTML.

    Forwarded messages attached as message/rfc822 are walked too, as TMs forward requests.
    """
    try:
        plains, htmls = _text_parts(msg)
    except Exception:  # noqa: BLE001 - a hostile MIME tree still yields what it can
        plains, htmls = [], []
    rows: list[tuple[str, str]] = []
    html_texts = []
    for html in htmls:
        text, found = html_to_text(html)
        html_texts.append(text)
        rows.extend(found)
    plain = "\n\n".join(p.replace("\r\n", "\n") for p in plains if p.strip())
    if not plain:
        plain = "\n\n".join(t for t in html_texts if t)
    return MessageText(plain=plain, table_rows=tuple(rows))


_QUOTE_STARTS = (
    re.compile(r"^\s*>"),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.I),
    re.compile(r"^\s*-{5,}\s*Forwarded message\s*-{5,}", re.I),
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.I),
    re.compile(r"^\s*Begin forwarded message:", re.I),
)


def strip_quoted(text: str) -> str:
    """Only what was written above the quoted part of a reply (domain.md §6)."""
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _QUOTE_STARTS):
            return "\n".join(lines[:i]).strip()
        if re.match(r"^\s*_{8,}\s*$", line) or re.match(r"^\s*From:\s", line, re.I):
            window = "\n".join(lines[i : i + 6])
            if re.search(r"^\s*(Sent|Date):", window, re.I | re.M) and re.search(
                r"^\s*(To|Subject):", window, re.I | re.M
            ):
                return "\n".join(lines[:i]).strip()
    return text.strip()
