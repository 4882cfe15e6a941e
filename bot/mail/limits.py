"""Caps on hostile mail: too many headers, MIME parts or levels of nesting are not read (issue 6)."""

from __future__ import annotations

import re
from email.message import Message

_HEADER_START = re.compile(rb"^[!-9;-~]+:")
_MULTIPART = re.compile(rb"^content-type:\s*multipart/", re.IGNORECASE)
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]*)"|([^;\s]+))', re.IGNORECASE)


def nesting_depth_over(raw: bytes, max_depth: int) -> bool:
    """Whether the raw message's multipart nesting goes deeper than ``max_depth``, read before it is parsed.

    The standard library's parser descends one level of its own stack per level of
    nesting, so a message two thousand levels deep fails inside the parser before
    ``over_limits`` can see it. This reads the lines once with a list for a stack: each
    multipart header block opens a boundary, its closing delimiter (or a delimiter of an
    outer boundary) closes it. It can only over-count where a body line looks like a
    header block; a message it passes is then parsed and measured exactly.
    """
    boundaries: list[bytes] = []
    in_headers, header = True, b""
    for line in raw.splitlines():
        if in_headers:
            if line[:1] in (b" ", b"\t"):
                header += b" " + line.strip()
                continue
            if _MULTIPART.match(header):
                found = _BOUNDARY.search(header)
                if found:
                    boundaries.append(found.group(1) or found.group(2) or b"")
                    if len(boundaries) + 1 > max_depth:
                        return True
            if not line.strip():
                in_headers, header = False, b""
                continue
            header = line if _HEADER_START.match(line) else b""
            continue
        if not line.startswith(b"--"):
            continue
        text = line.rstrip()
        for level in range(len(boundaries) - 1, -1, -1):
            delimiter = b"--" + boundaries[level]
            if text == delimiter + b"--":
                del boundaries[level:]
                break
            if text == delimiter:
                del boundaries[level + 1 :]
                in_headers, header = True, b""
                break
    return False


def over_limits(msg: Message, max_headers: int, max_parts: int, max_depth: int) -> str | None:
    """Why this message is too large in shape to read safely, or None.

    Walks the MIME tree by hand with its own counters, so a message nested a thousand
    levels deep is refused instead of exhausting the stack.
    """
    if len(msg.keys()) > max_headers:
        return f"more than {max_headers} headers"
    parts = 0
    stack: list[tuple[Message, int]] = [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > max_parts:
            return f"more than {max_parts} MIME parts"
        if depth > max_depth:
            return f"MIME nested more than {max_depth} levels deep"
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))
    return None
