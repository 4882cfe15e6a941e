"""A reply to the bot's own mail of no case (domain.md §1.2): DELAY to the daily agenda, else command_help."""

from __future__ import annotations

from datetime import date

from bot.domain.case_commands import entitled, who_may
from bot.domain.commands import Command
from bot.domain.purposes import Purpose
from bot.domain.threads import ThreadRoute
from bot.mail.reading import MessageReading
from bot.service.booking import tell_later_bookings
from bot.service.outbox import keyed_local_part
from bot.service.replies import command_help
from bot.service.timers import agenda_key
from bot.service.unit import Unit


def reply_to_bot(unit: Unit, route: ThreadRoute, reading: MessageReading, sender: str) -> None:
    """Never opens a case and never asks for details; only ``DELAY`` to today's agenda acts."""
    unit.actor = sender
    unit.note(None, "reply_to_bot", route.value)
    command = reading.command
    if route is ThreadRoute.AGENDA_REPLY and isinstance(command, Command) and command.word == "DELAY":
        if not entitled("DELAY", sender, None, unit.setup.police_domain):
            unit.note(None, "command_refused", "DELAY")
            command_help(unit, None, sender, f"DELAY can only be sent by {who_may('DELAY')}.", unit.in_reply_to)
        elif _todays_agenda(unit) not in reading.thread_references:
            unit.note(None, "command_not_applicable", "DELAY to an earlier day's agenda")
            command_help(
                unit, None, sender, "DELAY applies only to today's agenda; that day has passed.", unit.in_reply_to
            )
        else:
            # Anchored at now on the agenda's day: the bookings still to start are told.
            minutes = command.minutes or 0
            told = tell_later_bookings(unit, unit.now, minutes)
            unit.note(None, "delay", f"{minutes} minutes; {told} later booking(s) told")
        return
    what = "the daily agenda" if route is ThreadRoute.AGENDA_REPLY else "an email the bot sent"
    reason = f"Your reply to {what} belongs to no case; only DELAY <minutes> to the agenda acts."
    command_help(unit, None, sender, reason, unit.in_reply_to)


def agenda_message_id(day: date, domain: str) -> str:
    """The Message-ID ``day``'s daily agenda was sent with (as ``compose`` names an email of no case)."""
    return f"<{keyed_local_part(Purpose.DAILY_AGENDA, agenda_key(day))}@{domain}>"


def _todays_agenda(unit: Unit) -> str:
    return agenda_message_id(unit.now.astimezone(unit.setup.tz).date(), unit.config.bot.message_id_domain)
