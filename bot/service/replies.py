"""A reply in a case's thread (domain.md §1.2, §6): completes a request, or carries a command."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace

from bot.domain.case_commands import COMMANDS, entitled, who_may
from bot.domain.cases import CommandGiven, decide
from bot.domain.commands import Command, NotUnderstood
from bot.domain.model import Case, CaseState, RequestDetails
from bot.domain.purposes import Purpose
from bot.mail.reading import MessageReading
from bot.service.booking import book, carry_out_change
from bot.service.circulation import carries_minutes, circulate, told
from bot.service.request_details import ask_for, indicators
from bot.service.unit import Unit


def reply(unit: Unit, case: Case, reading: MessageReading, sender: str, received_at: datetime) -> None:
    """Carry out what a reply from ``sender`` says, or tell them what the bot understands."""
    unit.actor = sender
    unit.note(case, "reply_received")
    command = reading.command
    requester = case.details.requester.email
    police = unit.setup.police_domain
    if isinstance(command, NotUnderstood):
        command_help(unit, case, sender, command.reason)
        return
    if carries_minutes(unit, case, reading) and entitled("", sender, requester, police):
        circulate(unit, case, reading, sender)
        return
    if isinstance(command, Command):
        if not entitled(command.word, sender, requester, police):
            unit.note(case, "command_refused", command.word)
            command_help(unit, case, sender, f"{command.word} can only be sent by {who_may(command.word)}.")
        elif not _apply(unit, case, command, sender):
            unit.note(case, "command_not_applicable", f"{command.word} while {case.state.value}")
            reason = f"{command.word} does not apply to case {case.case_id} as it stands ({_state_words(case)})."
            command_help(unit, case, sender, reason)
        return
    if case.state is CaseState.AWAITING_INFORMATION and entitled("", sender, requester, police):
        _complete(unit, case, reading, received_at)
        return
    command_help(unit, case, sender, "The first line of your reply was not one of the words the bot understands.")


def _apply(unit: Unit, case: Case, command: Command, sender: str) -> bool:
    """Carry out one command word; False when it does not apply to the case as it stands."""
    view = unit.view(case, with_history=True)
    decision = decide(view, CommandGiven(command, sender), unit.now, unit.setup.policy)
    told(unit, case, sender, decision, command.word)
    if decision.refused is not None and not decision.applies:
        return True  # refused, and the sender told why
    if not decision.applies:
        return False
    # A move that finds no free slot does not apply: its decision carries nothing but the change.
    case = unit.carry_out(case, decision)
    return carry_out_change(unit, case, decision.change)


def _complete(unit: Unit, case: Case, reading: MessageReading, received_at: datetime) -> None:
    """§2: a reply that supplies missing details; the booking is made once nothing is missing."""
    details = case.details.completed_by(reading.reply_request or RequestDetails())
    unit.tx.update_case(case.case_id, unit.now, details=details)
    case = replace(case, details=details)
    missing = details.missing(case.kind)
    if missing:
        # Asked again only within the reply limits: a mailbox that answers every email
        # without marking itself automatic would otherwise be asked all night.
        if unit.may_answer(case, case.details.requester.email or ""):
            ask_for(unit, case, missing, indicators(case.details, reading))
        return
    unit.note(case, "details_completed")
    book(unit, case, received_at, indicators(details, reading))


def command_help(unit: Unit, case: Case | None, to: str, reason: str, key: str | None = None) -> None:
    """The short reply listing the words the bot understands, rendered from the command table."""
    if not unit.may_answer(case, to):
        return
    words = [SimpleNamespace(word=rule.usage, meaning=rule.meaning) for rule in COMMANDS.values()]
    unit.send(Purpose.COMMAND_HELP, case, (to,), (), {"reason": reason, "words": words}, key=key)


def _state_words(case: Case) -> str:
    return case.state.value.replace("_", " ")
