"""§5 The minutes a reply carries, sent on by the bot; and the short reply that says why not (§6)."""

from __future__ import annotations

from bot.domain.circulation import MinutesAttached
from bot.domain.commands import Command
from bot.domain.decisions import Decision
from bot.domain.model import Case, CaseState
from bot.domain.purposes import Purpose
from bot.mail.reading import MessageReading
from bot.service.unit import Unit


def carries_minutes(unit: Unit, case: Case, reading: MessageReading) -> bool:
    """A reply with files attached that are the minutes: ``MINUTES SHARED`` with them, a reply to the
    minutes email, or any reply in the thread once the discussion has started (§5)."""
    if not reading.attachments:
        return False
    command = reading.command
    if isinstance(command, Command):
        return command.word == "MINUTES SHARED"
    if command is not None:
        return False
    if any(unit.tx.email_purpose(ref) == Purpose.MINUTES_TEMPLATE for ref in reading.thread_references):
        return True
    if case.state in (CaseState.CONTACTED, CaseState.HELD):
        return True
    booking = unit.tx.booking_for(case.case_id)
    return case.state is CaseState.BOOKED and booking is not None and booking.start <= unit.now


def circulate(unit: Unit, case: Case, reading: MessageReading, sender: str) -> None:
    """Send the minutes on to everyone invited; the sender hears of any file not sent on."""
    _, decision = unit.decide(case, MinutesAttached(sender, reading.attachments))
    told(unit, case, sender, decision, "minutes attached")


def told(unit: Unit, case: Case, sender: str, decision: Decision, word: str) -> None:
    """The sender of a reply the rules refused (wholly or in part) gets ``command_refused`` saying why."""
    if decision.refused is not None:
        if not decision.applies:
            unit.note(case, "command_refused", f"{word} while {case.state.value}")
        command_refused(unit, case, sender, word, decision.refused)


def command_refused(unit: Unit, case: Case | None, to: str, word: str, reason: str) -> None:
    """The short reply saying what was not done and why (within the reply limits)."""
    if unit.may_answer(case, to):
        unit.send(Purpose.COMMAND_REFUSED, case, (to,), (), {"word": word, "reason": reason})
