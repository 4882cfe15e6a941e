"""What handling one message or one timer did: for the daemon's move, the log and ``replay``."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.model import CalendarEvent, OutgoingEmail
from bot.ports import Folder

OUTCOME_FOLDER = {
    "processed": Folder.PROCESSED,
    "ignored": Folder.PROCESSED,
    "triage": Folder.TRIAGE,
    "quarantine": Folder.QUARANTINE,
}


@dataclass
class Handled:
    """What handling one message did: for the daemon's move, the log and ``replay``."""

    message_id: str
    kind: str  # urgent, standard, reply, auto, unrecognised; "timer" for a deadline
    outcome: str  # processed, triage, quarantine, ignored
    case_id: str | None = None
    reason: str | None = None
    duplicate: bool = False
    booked: list[tuple[str, CalendarEvent]] = field(default_factory=list)
    moved: list[tuple[str, CalendarEvent]] = field(default_factory=list)
    cancelled: list[tuple[str, CalendarEvent]] = field(default_factory=list)
    emails: list[OutgoingEmail] = field(default_factory=list)
    late: bool = False

    @property
    def folder(self) -> Folder:
        return OUTCOME_FOLDER[self.outcome]
