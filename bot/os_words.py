"""Operating-system errors in words, for every message an operator reads."""

from __future__ import annotations

import os


def os_error_words(exc: OSError) -> str:
    """An operating-system error as words, never an errno: "connection refused",
    "name or service not known", "permission denied on /var/lib/strategy-bot"."""
    words = exc.strerror or (os.strerror(exc.errno) if exc.errno and exc.errno > 0 else "")
    if not words:
        message = exc.args[0] if exc.args else ""
        words = " ".join(str(message).split()) or type(exc).__name__
    words = words[:1].lower() + words[1:]
    return f"{words} on {exc.filename}" if exc.filename is not None else words
