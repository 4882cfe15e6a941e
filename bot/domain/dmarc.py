"""Whether a trusted server says DMARC passed: read from Authentication-Results (domain.md §7)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from bot.domain.classify import raw_values, sender_address


class _Unread:
    """The sender not given: ``dmarc_pass_servers`` reads it from the message."""


_UNREAD = _Unread()


def _without_comments_and_quotes(text: str) -> str:
    """``text`` with (comments) and "quoted strings" blanked, so a ``;`` or ``=`` inside them cannot mislead."""
    if "(" not in text and '"' not in text:
        return text  # nothing to blank: a backslash counts only inside either
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


def _header_from(tokens: list[str]) -> str | None:
    """The ``header.from`` property of one result (lower case, no trailing dot; a full address's domain)."""
    for token in tokens[1:]:
        name, _, value = token.partition("=")
        if name.lower() == "header.from" and value:
            return value.rsplit("@", 1)[-1].lower().rstrip(".")
    return None


def _passes(results: str, from_domain: str | None) -> bool:
    """Whether one Authentication-Results header (after its authserv-id) shows dmarc=pass or compauth=pass 1xx/7xx
    for ``from_domain``, the domain of the message's From.

    DMARC checked the domain its ``header.from`` names: a pass for ``evil.example`` says
    nothing of mail whose From is ``council.example``, so it counts only when the two are
    equal. Exchange Online's compauth result carries no ``header.from``; the ``dmarc``
    result beside it in the same header does, and must name the From domain.
    """
    if not from_domain:
        return False
    verdict = False
    header_froms: set[str | None] = set()
    for resinfo in results.split(";"):
        tokens = re.sub(r"\s*=\s*", "=", resinfo).split()
        if not tokens:
            continue
        method, _, result = tokens[0].lower().partition("=")
        method = method.split("/", 1)[0]  # a method may carry a version: dmarc/1=pass
        if method == "dmarc":
            header_froms.add(_header_from(tokens))
        if result != "pass":
            continue
        if method == "dmarc" and _header_from(tokens) == from_domain:
            return True
        if method == "compauth":
            reasons = [t.split("=", 1)[1] for t in tokens[1:] if t.lower().startswith("reason=")]
            if any(re.fullmatch(r"[17][0-9]{2}", reason) for reason in reasons):
                verdict = True
    return verdict and header_froms == {from_domain}


def dmarc_pass_servers(msg: EmailMessage, from_address: str | None | _Unread = _UNREAD) -> frozenset[str]:
    """Every server id whose Authentication-Results say DMARC passed, each judged by ``dmarc_passes``.

    So that a message read once (in the time-limited reader) can be asked later about the
    configured server, with the one reading of the headers ``dmarc_passes`` keeps.
    ``from_address`` is the message's ``sender_address`` when the caller has it already.
    """
    texts = _results_texts(msg)
    named = set()
    for text in texts:
        words = text.partition(";")[0].split()
        if words:
            named.add(words[0].lower())
    if not named:
        return frozenset()
    domain = _from_domain(sender_address(msg)[1] if isinstance(from_address, _Unread) else from_address)
    return frozenset(server for server in named if _verdict(texts, server.strip().lower(), domain))


def dmarc_passes(msg: EmailMessage, server_id: str) -> bool:
    """§7: the trusted server's Authentication-Results header shows DMARC passed.

    Only headers whose authserv-id (before the first ``;``; an optional version number
    after it is allowed) equals ``server_id`` count, and of those only the topmost, the one
    the receiving server added last: anyone can write an Authentication-Results header
    claiming the trusted server's id into the mail they send, and it sits below the real
    one. A pass counts only for the domain of the From header: its ``header.from`` must
    equal it (``dmarc=pass header.from=evil.example`` on mail from council.example is no
    pass), and a From that is not one well-formed address never passes. Exchange Online's
    ``compauth=pass reason=1xx`` (or 7xx) counts as a pass: its composite check passed
    where DMARC alone was not conclusive, for the ``header.from`` its dmarc result names. Results are read as
    ``method=result`` at the start of each result, never from inside property values,
    comments or quoted strings (``smtp.mailfrom=dmarc=pass@evil.example``).
    """
    wanted = server_id.strip().lower()
    if not wanted:
        return False
    return _verdict(_results_texts(msg), wanted, _from_domain(sender_address(msg)[1]))


def _results_texts(msg: EmailMessage) -> list[str]:
    """Each Authentication-Results header, topmost first, unfolded, its comments and quoted strings blanked."""
    values = raw_values(msg, "Authentication-Results")
    return [_without_comments_and_quotes(" ".join(value.split())) for value in values]


def _from_domain(address: str | None) -> str | None:
    return address.rsplit("@", 1)[1].rstrip(".") if address else None


def _verdict(texts: list[str], wanted: str, from_domain: str | None) -> bool:
    """``dmarc_passes`` for the server id ``wanted`` (stripped, lower case, not empty)."""
    for text in texts:
        authserv, separator, results = text.partition(";")
        words = authserv.split()
        if not words or words[0].lower() != wanted or len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
            continue
        return bool(separator) and _passes(results, from_domain)
    return False
