"""An HTML email body as the lines of text a mail client shows, and its two-cell table rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote

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
            table.row.append(squash("".join(table.cell)))
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
            pending.append(squash("".join(table.cell)))
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


def squash(text: str) -> str:
    """Runs of white space (no-break and zero-width ones too) as one space, and none at either end."""
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
