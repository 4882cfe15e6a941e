"""Caps on hostile mail: too many headers, MIME parts or levels of nesting are not read (issue 6)."""

from __future__ import annotations

from email.message import Message


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
