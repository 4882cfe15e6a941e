"""Which mail domains the bot trusts: to act on (senders) and to send case details to (recipients)."""

from __future__ import annotations

from collections.abc import Collection


def domain_allowed(address: str, domains: Collection[str]) -> bool:
    """True when the address's domain is one of ``domains`` or a sub-domain of one (domain.md §7).

    Sub-domains count because councils and trusts route departments through them
    (``school.council.example``); look-alikes such as ``council.example.evil`` do not.
    """
    if "@" not in address:
        return False
    domain = address.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)
