"""Whether a trusted server says DMARC passed: read from Authentication-Results (domain.md §7)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from bot.domain.classify import raw_values


def _without_comments_and_quotes(text: str) -> str:
    """``text`` with (comments) and "quoted strings" blanked, so a ``;`` or ``=`` inside them cannot mislead."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
            out.append(" ")
        elif char == "\\" and (quoted or depth):
            escaped = True
            out.append(" ")
        elif quoted:
            quoted = char != '"'
            out.append(" ")
        elif char == '"' and not depth:
            quoted = True
            out.append(" ")
        elif char == "(":
            depth += 1
            out.append(" ")
        elif char == ")" and depth:
            depth -= 1
            out.append(" ")
        else:
            out.append(" " if depth else char)
    return "".join(out)


def _passes(results: str) -> bool:
    """Whether one Authentication-Results header (after its authserv-id) shows dmarc=pass or compauth=pass 1xx/7xx."""
    for resinfo in results.split(";"):
        tokens = re.sub(r"\s*=\s*", "=", resinfo).split()
        if not tokens:
            continue
        method, _, result = tokens[0].lower().partition("=")
        method = method.split("/", 1)[0]  # a method may carry a version: dmarc/1=pass
        if result != "pass":
            continue
        if method == "dmarc":
            return True
        if method == "compauth":
            reasons = [t.split("=", 1)[1] for t in tokens[1:] if t.lower().startswith("reason=")]
            if any(re.fullmatch(r"[17][0-9]{2}", reason) for reason in reasons):
                return True
    return False


def dmarc_pass_servers(msg: EmailMessage) -> frozenset[str]:
    """Every server id whose Authentication-Results say DMARC passed, each judged by ``dmarc_passes``.

    So that a message read once (in the time-limited reader) can be asked later about the
    configured server, with the one reading of the headers ``dmarc_passes`` keeps.
    """
    named = set()
    for value in raw_values(msg, "Authentication-Results"):
        words = _without_comments_and_quotes(" ".join(value.split())).partition(";")[0].split()
        if words:
            named.add(words[0].lower())
    return frozenset(server for server in named if dmarc_passes(msg, server))


def dmarc_passes(msg: EmailMessage, server_id: str) -> bool:
    """§7: the trusted server's Authentication-Results header shows DMARC passed.

    Only headers whose authserv-id (before the first ``;``; an optional version number
    after it is allowed) equals ``server_id`` count, and of those only the topmost, the one
    the receiving server added last: anyone can write an Authentication-Results header
    claiming the trusted server's id into the mail they send, and it sits below the real
    one. Exchange Online's ``compauth=pass reason=1xx`` (or 7xx) counts as a pass: its
    composite check passed where DMARC alone was not conclusive. Results are read as
    ``method=result`` at the start of each result, never from inside property values,
    comments or quoted strings (``smtp.mailfrom=dmarc=pass@evil.example``).
    """
    wanted = server_id.strip().lower()
    if not wanted:
        return False
    for value in raw_values(msg, "Authentication-Results"):
        text = _without_comments_and_quotes(" ".join(value.split()))
        authserv, separator, results = text.partition(";")
        words = authserv.split()
        if not words or words[0].lower() != wanted or len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
            continue
        return bool(separator) and _passes(results)
    return False
