"""The roles the service talks to, as ``typing.Protocol``; adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot.domain.model import CalendarEvent, Interval

if TYPE_CHECKING:
    from bot.config import InboxConfig


class Folder(StrEnum):
    """Where a handled message goes; the inbox maps these to its configured folder names."""

    PROCESSED = "processed"
    QUARANTINE = "quarantine"
    TRIAGE = "triage"


def handled_folders(cfg: InboxConfig) -> dict[Folder, str]:
    """The configured name of each folder a handled message goes to."""
    return {
        Folder.PROCESSED: cfg.processed_folder,
        Folder.QUARANTINE: cfg.quarantine_folder,
        Folder.TRIAGE: cfg.triage_folder,
    }


@dataclass(frozen=True)
class IncomingMail:
    """One message as it sits in the inbox, not yet parsed."""

    key: str  # the inbox's own handle for moving it
    raw: bytes
    received_at: datetime  # when the inbox received it (aware)
    # Over the configured size: ``raw`` holds the headers only and the service quarantines it.
    oversized: bool = False


class Inbox(Protocol):
    """The referral inbox. A message leaves it only through ``move``, after its effects are committed."""

    def pending(self) -> Iterator[IncomingMail]:
        """The messages still in the inbox, oldest first."""
        ...

    def move(self, key: str, folder: Folder) -> None:
        """Move a handled message out of the inbox; moving one already gone is not an error."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived (True), or ``timeout`` seconds pass (False)."""
        ...


class MailSender(Protocol):
    """Delivers one rendered email. Raises ``TransientError`` (retry) or ``PermanentError``."""

    def send(self, message_id: str, raw: bytes, sender: str, recipients: Sequence[str]) -> None: ...


class StrategyCalendar(Protocol):
    """The shared strategy calendar. Events made by hand count as busy time (domain.md §3.3)."""

    # True when the calendar's server invites the attendees itself (Exchange): the bot's
    # emails then carry no iCalendar invitation of their own, so nobody gets two.
    sends_invitations: bool

    def busy(self, start: datetime, end: datetime) -> list[Interval]:
        """Every busy interval overlapping [start, end), whoever booked it."""
        ...

    def book(self, event: CalendarEvent) -> None:
        """Add the event; raises ``SlotTaken`` if it would overlap another. Booking the same uid again is a no-op."""
        ...

    def booked(self, uid: str) -> Interval | None:
        """The times of the event with this uid, or None when the calendar holds none.

        A booking made just before a crash is in the calendar but not in the store; the
        retry finds it here and keeps to it rather than booking around itself.
        """
        ...

    def move(self, event: CalendarEvent) -> None:
        """Replace the event with this uid (new times, higher sequence); raises ``SlotTaken``."""
        ...

    def cancel(self, uid: str) -> None:
        """Remove the event with this uid, freeing its time."""
        ...

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """The events overlapping [start, end), earliest first."""
        ...


class Clock(Protocol):
    # Simulated seconds per real second: 1 for the wall clock, more for a rehearsal.
    speed: float

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class AdapterState(Protocol):
    """A small durable key-value store for a mail adapter's bookmarks (UIDVALIDITY, delta links)."""

    def get_state(self, key: str) -> str | None: ...

    def put_state(self, key: str, value: str, now: datetime) -> None: ...
