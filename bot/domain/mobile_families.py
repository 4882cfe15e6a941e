"""§5 Mobile families (002 §6): ``MOVED <email>`` with the receiving authority, or refused saying why."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.domain.booking_rules import unique
from bot.domain.commands import Command
from bot.domain.decisions import NOT_APPLICABLE, CaseView, Decision, FamilyMoved, Mail, Note, Policy
from bot.domain.model import CaseState
from bot.domain.purposes import Purpose
from bot.domain.trust import domain_allowed


def command_refused(to: str, word: str, reason: str) -> Mail:
    """The short reply saying a command was not carried out, and what it needs."""
    return Mail(Purpose.COMMAND_REFUSED, (to,), (), {"word": word, "reason": reason})


def _what_is_needed(policy: Policy) -> str:
    domains = policy.receiving_authority_domains
    if not domains:
        return (
            "MOVED needs the email address of the receiving authority, and no receiving authority domains are "
            "configured (privacy.receiving_authority_domains): ask the bot's administrator. Nothing has been booked."
        )
    example = f"duty@{domains[0]}"
    return (
        "MOVED needs the email address of the receiving authority, in one of these domains: "
        f'{", ".join(domains)}; for example "MOVED {example}". Nothing has been booked.'
    )


def family_moved(view: CaseView, command: Command, sender: str, now: datetime, policy: Policy) -> Decision:
    """§5 Mobile families: the receiving authority joins the invitees and a new discussion is looked for.

    Only an address in ``receiving_authority_domains`` counts as the receiving authority, so a
    forged request cannot send case details anywhere; without one nothing is booked.
    """
    case = view.case
    if case.state in (CaseState.CANCELLED, CaseState.CLOSED):
        return NOT_APPLICABLE
    receiving = [a for a in command.invitees if domain_allowed(a, policy.receiving_authority_domains)]
    if not receiving:
        given = f"{len(command.invitees)} address(es) outside the receiving authority domains"
        return Decision(
            emails=(command_refused(sender, "MOVED", _what_is_needed(policy)),),
            history=(Note("command_refused", f"MOVED: {given if command.invitees else 'no address'}"),),
        )
    details = replace(
        case.details,
        invitees=tuple(unique([*case.details.invitees, *command.invitees])),
        receiving_authority=tuple(unique([*case.details.receiving_authority, *receiving])),
    )
    return Decision(
        details=details,
        change=FamilyMoved(command.invitees),
        history=(Note("family_moved", f"{len(receiving)} receiving authority address(es) invited"),),
    )
