"""Where the quoted or forwarded part of a reply starts, and what was written above it (domain.md §6)."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
