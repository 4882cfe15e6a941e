"""Quorum and attendance (domain.md §2, §3.5–3.6): who is invited, by role, and which roles are missing.

A strategy discussion is quorate with children's social care (the social worker and their
manager), health and police. Police are the referral unit that runs the rota, so they are
always there; the other roles are the request's social worker, its TM/PM and its health
representative, each only while invited and not declined.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.domain.model import RequestDetails

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

SOCIAL_WORKER = "social worker"
MANAGER = "manager"
HEALTH = "health"
POLICE = "police"
OTHERS = "others"
# The roles a quorate discussion needs, in the order the confirmation names them.
QUORUM_ROLES = (SOCIAL_WORKER, MANAGER, HEALTH, POLICE)
POLICE_PRESENT = "the referral unit"


def social_worker_email(details: RequestDetails) -> str | None:
    """The social worker's email, when the request's ``Social worker`` field gives one (§2)."""
    found = _EMAIL.findall(details.social_worker or "")
    return found[0].lower() if found else None


@dataclass(frozen=True)
class Attendance:
    """Who is invited in each role (the TM/PM by address); the missing quorum roles follow from it."""

    social_worker: tuple[str, ...]
    manager: tuple[str, ...]
    health: tuple[str, ...]
    police: tuple[str, ...]
    others: tuple[str, ...]

    def by_role(self) -> list[tuple[str, tuple[str, ...]]]:
        """(role, addresses) for each role with someone in it, in the confirmation's order."""
        rows = [
            (SOCIAL_WORKER, self.social_worker),
            (MANAGER, self.manager),
            (HEALTH, self.health),
            (POLICE, self.police),
            (OTHERS, self.others),
        ]
        return [(role, who) for role, who in rows if who]

    @property
    def missing(self) -> list[str]:
        """The quorum roles nobody fills, in the order of ``QUORUM_ROLES``."""
        filled = dict(self.by_role())
        return [role for role in QUORUM_ROLES if role not in filled]


def attendance(details: RequestDetails, invited: Sequence[str], declined: Collection[str] = ()) -> Attendance:
    """The invitees of ``invited`` (addresses allowed to receive the case) by role, leaving out ``declined``."""
    present = [a for a in invited if a.lower() not in {d.lower() for d in declined}]

    def only(address: str | None) -> tuple[str, ...]:
        return (address,) if address and address in present else ()

    social_worker = only(social_worker_email(details))
    manager = only(details.requester.email)
    health = only(details.health_rep)
    named = {*social_worker, *manager, *health}
    others = tuple(a for a in present if a not in named)
    return Attendance(social_worker, manager, health, (POLICE_PRESENT,), others)


ROLE_WORDS = {SOCIAL_WORKER: "the social worker", MANAGER: "the manager", HEALTH: "a health representative"}


def quorum_note(missing: Sequence[str]) -> str | None:
    """The confirmation's warning naming the missing quorum roles; None when every role is invited."""
    if not missing:
        return None
    words = [ROLE_WORDS.get(role, role) for role in missing]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return (
        f"Not quorate as invited: {listed} {'is' if len(words) == 1 else 'are'} not invited. "
        "Please invite them, or record why at item 1 of the agenda."
    )
