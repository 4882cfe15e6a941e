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


def network_words(exc: BaseException) -> str | None:
    """The operating system's words for why a connection failed, found inside a library's wrapping.

    requests wraps urllib3, which wraps the socket's ``ConnectionRefusedError``; the words
    ("connection refused", "name or service not known", "timed out") are the innermost
    ``OSError``'s. None when there is no such error inside ``exc``.
    """
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    found: OSError | None = None
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        if isinstance(item, OSError) and (item.strerror or isinstance(item, TimeoutError)):
            found = item  # the deepest one wins: keep looking inside
        todo += [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]
    return os_error_words(found) if found is not None else None


def failure_words(exc: BaseException) -> str:
    """Why a connection failed in words ("connection refused"), else the error's type's name."""
    return network_words(exc) or type(exc).__name__
