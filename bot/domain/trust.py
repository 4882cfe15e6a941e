"""Which mail domains the bot trusts: to act on (senders) and to send case details to (recipients)."""

from __future__ import annotations

import re
from collections.abc import Collection

# Something written as an address: a display name like this is a disguise, never a name.
_ADDRESS_LIKE = re.compile(r"[^\s@<>\"]+@[^\s@<>\"]+\.[^\s@<>\"]+")
# One address in angle brackets, and a quoted display name before one (dropped, commas and all).
_BRACKETED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
_QUOTED_NAME = re.compile(r'"(?:[^"\\]|\\.)*"(?=\s*<)')


def domain_allowed(address: str, domains: Collection[str]) -> bool:
    """True when the address's domain is one of ``domains`` or a sub-domain of one (domain.md §7).

    Sub-domains count because councils and trusts route departments through them
    (``school.council.example``); look-alikes such as ``council.example.evil`` do not.
    """
    if "@" not in address:
        return False
    domain = address.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)


def looks_like_address(text: str) -> bool:
    """Whether ``text`` (a display name) holds something written as an email address (§7).

    ``"b@council.example" <c@evil.example>`` is from c@evil.example; a name that reads as an
    address is dropped so that nothing shows or uses it as if it were the sender.
    """
    return bool(_ADDRESS_LIKE.search(text))


def addresses_written(value: str, pattern: re.Pattern[str]) -> list[str]:
    """The addresses a person wrote in a field of the request (invitees, health), lower case, in order.

    Each comma-, semicolon- or line-separated item that has an address in angle brackets
    gives only that address: its display name, even one that looks like an address, is no
    address (``"b@council.example" <c@evil.example>`` invites c@evil.example, which the
    recipient domains then judge).
    """
    found: list[str] = []
    for item in re.split(r"[,;\n]", _QUOTED_NAME.sub(" ", value)):
        bracketed = _BRACKETED.findall(item)
        candidates = bracketed if bracketed else pattern.findall(item)
        found.extend(a.lower() for a in candidates if pattern.fullmatch(a))
    return found
