"""The roles the service talks to, as ``typing.Protocol``; adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.domain.model import Booking, CalendarEvent, Case, CaseState, Interval, Kind, OutgoingEmail, RequestDetails
from bot.domain.records import HistoryEntry, QueuedEmail, SeenMessage, Tally, TimerRow
from bot.ports.compliance import Measures

if TYPE_CHECKING:
    from bot.config import InboxConfig
    from bot.mail.reading import MessageReading, TooSlow


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

    def move(self, key: str, folder: Folder) -> None:
        """Move a handled message out of the inbox; moving one already gone is not an error."""

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived (True), or ``timeout`` seconds pass (False)."""


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

    def book(self, event: CalendarEvent) -> None:
        """Add the event; raises ``SlotTaken`` if it would overlap another. Booking the same uid again is a no-op."""

    def booked(self, uid: str) -> Interval | None:
        """The times of the event with this uid, or None when the calendar holds none.

        A booking made just before a crash is in the calendar but not in the store; the
        retry finds it here and keeps to it rather than booking around itself.
        """

    def move(self, event: CalendarEvent) -> None:
        """Replace the event with this uid (new times, higher sequence); raises ``SlotTaken``."""

    def cancel(self, uid: str) -> None:
        """Remove the event with this uid, freeing its time."""

    def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """The events overlapping [start, end), earliest first."""


class MessageReader(Protocol):
    """Reads each message once, under the time limit of ``inbox.parse_seconds`` (issue 11 §7)."""

    def read(self, raw: bytes) -> MessageReading | TooSlow:
        """What the message says, or ``TooSlow`` when it did not read in time (it is then quarantined unread).

        Raises what the reading raises on a message it cannot read; the service quarantines it.
        """
        ...

    def read_ahead(self, raws: list[bytes]) -> None:
        """Start reading a batch now, so message n+1 reads while the bot handles message n."""
        ...


class Clock(Protocol):
    # Simulated seconds per real second: 1 for the wall clock, more for a rehearsal.
    speed: float

    def now(self) -> datetime:
        """The current instant, timezone-aware."""


class AdapterState(Protocol):
    """A small durable key-value store for a mail adapter's bookmarks (UIDVALIDITY, delta links)."""

    def get_state(self, key: str) -> str | None:
        """What was stored under ``key``, or None."""

    def put_state(self, key: str, value: str, now: datetime) -> None:
        """Store ``value`` under ``key``, durably, replacing what was there."""


# -- optional abilities: an adapter has them or not; callers ask with isinstance ------------------


@runtime_checkable
class BatchMove(Protocol):
    """An inbox that moves a whole batch of handled messages at once (IMAP: one command per folder)."""

    def move_many(self, moves: list[tuple[str, Folder]]) -> None:
        """Move each (key, folder) as ``Inbox.move`` would; a message already gone is not an error."""


@runtime_checkable
class Purgeable(Protocol):
    """An inbox that keeps handled mail in its own folders and can empty them (Maildir)."""

    def purge(self, before: datetime) -> int:
        """Delete handled messages received before ``before``; returns how many. Unhandled mail stays."""


@runtime_checkable
class Checkable(Protocol):
    """An adapter that can test its server and credentials without changing anything (``check-config``)."""

    def check(self) -> list[str]:
        """One plain sentence per problem found; empty when everything answers as configured."""


@runtime_checkable
class Throttled(Protocol):
    """An adapter its server can ask to stay away (Retry-After, ErrorServerBusy); its role is the slot it fills."""

    def throttled_until(self) -> datetime | None:
        """When the server may be asked again, while that is still to come; None when it may be asked now."""


@runtime_checkable
class Closeable(Protocol):
    """An adapter holding a connection or a session that should be let go at shutdown."""

    def close(self) -> None:
        """Release what the adapter holds; closing twice is harmless."""


# -- the store, by role ---------------------------------------------------------------------------
# Every method runs inside the unit of work of the StoreTransaction it is called on, and
# every instant given to the store must be timezone-aware (a naive one is a ValueError).


class MessageLog(Protocol):
    """Every message the bot has handled: what makes a second delivery of one a no-op."""

    def seen_message(self, message_id: str, content_hash: str) -> SeenMessage | None:
        """The earlier handling of this message, by Message-ID or, failing that, by content."""

    def record_message(
        self,
        message_id: str,
        content_hash: str,
        received_at: datetime,
        handled_at: datetime,
        kind: str,
        outcome: str,
        reason: str | None,
        case_id: str | None,
    ) -> None:
        """Remember how a message was handled; the message itself is not kept."""


class CaseRecords(Protocol):
    """The cases, with their request details (personal data, sealed at rest when configured)."""

    def add_case(
        self,
        kind: Kind,
        state: CaseState,
        details: RequestDetails,
        root_message_id: str,
        received_at: datetime,
        now: datetime,
        effective_day: date | None = None,
        clock_start: datetime | None = None,
    ) -> Case:
        """Open a case for the request ``root_message_id``; the store gives it its case id."""

    def case(self, case_id: str) -> Case | None:
        """The case with this id, or None."""

    def update_case(
        self,
        case_id: str,
        now: datetime,
        state: CaseState | None = None,
        details: RequestDetails | None = None,
        effective_day: date | None = None,
    ) -> None:
        """Change what is given (None leaves a field as it is) and stamp the case updated at ``now``."""

    def case_for_thread(self, references: list[str]) -> Case | None:
        """The case that one of these Message-IDs (ours or theirs) belongs to, newest reference first."""

    def open_case_with_n_number(self, n_numbers: list[str]) -> Case | None:
        """The newest case not cancelled or closed that names any of these N numbers."""

    def cases_for(self, reference: str) -> list[Case]:
        """The cases with this case id, or naming this N number, oldest first."""

    def open_cases(self) -> list[Case]:
        """Every case not cancelled or closed, oldest first."""


class BookingRecords(Protocol):
    """The bot's own record of the slots it booked in the strategy calendar."""

    def add_booking(self, booking: Booking) -> None:
        """Record a booking just made in the calendar."""

    def set_booking(self, case_id: str, start: datetime, end: datetime, sequence: int, status: str) -> None:
        """Move the case's current booking, or cancel it (``status="cancelled"``)."""

    def booking_for(self, case_id: str) -> Booking | None:
        """The case's current (not cancelled) booking, or None."""

    def bookings_between(self, start: datetime, end: datetime) -> list[Booking]:
        """Current bookings overlapping [start, end), earliest first."""


class Outbox(Protocol):
    """The transactional outbox: an email is queued with the change that causes it, sent after commit."""

    def queue_email(self, email: OutgoingEmail, raw: bytes, now: datetime) -> None:
        """Queue the rendered email ``raw`` for delivery from ``now``; sealed at rest when configured."""

    def email_queued(self, message_id: str) -> bool:
        """Whether an email with this Message-ID was ever queued."""

    def email_purpose(self, message_id: str) -> str | None:
        """The purpose of the email the bot sent with this Message-ID, or None if it sent none."""

    def count_emails(self, case_id: str | None, purpose: str) -> int:
        """How many emails of this purpose were queued for the case, whatever became of them."""

    def count_recent_emails(self, purposes: tuple[str, ...], since: datetime, recipient: str | None = None) -> int:
        """Emails of these purposes queued since ``since``, to ``recipient`` alone if given (the reply caps)."""

    def due_emails(self, now: datetime, limit: int) -> list[QueuedEmail]:
        """Up to ``limit`` pending emails whose next attempt is due, oldest first, unsealed.

        Raises ``PermanentError`` when one was sealed and the store has no key to open it.
        """

    def mark_sent(self, email_id: int, now: datetime) -> None:
        """The sender accepted the email: it is never sent again."""

    def mark_retry(self, email_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        """A failed attempt worth retrying: try again at ``retry_at``."""

    def mark_failed(self, email_id: int, attempts: int, error: str) -> None:
        """Refused for good: never retried, kept for a person to see."""

    def sent_since(self, since: datetime) -> int:
        """How many emails were handed to the sender after ``since`` (the send-rate window)."""

    def pending_email_count(self) -> int:
        """How many emails wait to be delivered."""

    def oldest_pending_email(self) -> datetime | None:
        """When the oldest email still waiting was queued, or None when none waits."""


class Timers(Protocol):
    """The deadlines: written with the case change that sets them, fired by the daemon when due."""

    def add_timer(
        self, key: str, case_id: str | None, purpose: str, due_at: datetime, detail: str = "", scope: str = ""
    ) -> bool:
        """Schedule a deadline once; False (and nothing changed) when a timer with this key exists.

        The key is kept whatever became of its timer, so a cancelled or fired one still holds
        it. ``scope`` names what the timer belongs to within its case, for ``cancel_timers``.
        """

    def cancel_timers(self, case_id: str, purposes: tuple[str, ...] | None = None, scope: str | None = None) -> int:
        """Cancel the case's pending timers, of these purposes and this scope when given; returns how many."""

    def timers_for(self, case_id: str) -> list[TimerRow]:
        """Every timer of the case, whatever its status, by due time."""

    def timer(self, timer_id: int) -> TimerRow | None:
        """The timer with this id, or None."""

    def due_timers(self, now: datetime, limit: int = 100) -> list[TimerRow]:
        """Up to ``limit`` pending timers due at or before ``now``, by due time."""

    def pending_timers(self) -> list[TimerRow]:
        """Every pending timer, by due time."""

    def next_timer_due(self) -> datetime | None:
        """When the next pending timer is due, or None when none is pending."""

    def overdue_timer_count(self, now: datetime) -> int:
        """How many pending timers are already past their due time."""

    def mark_timer_fired(self, timer_id: int, now: datetime, late: bool) -> None:
        """The timer did its work at ``now``; ``late`` when that was after its due time."""

    def fail_timer(self, timer_id: int, now: datetime, reason: str) -> None:
        """The timer's firing raised: kept with ``reason`` for a person to see, never retried in a loop."""


class History(Protocol):
    """The append-only audit history: who did what to which case, when, from which message."""

    def add_history(
        self,
        case_id: str | None,
        at: datetime,
        actor: str,
        action: str,
        detail: str = "",
        message_id: str | None = None,
    ) -> None:
        """Append one line; ``detail`` names N numbers only, never a child's name."""

    def history(self, case_id: str) -> list[HistoryEntry]:
        """The case's history, oldest first."""

    def tallies(self) -> list[Tally]:
        """Counts for the metrics, by table and labels; no column that holds personal data is read."""


class Retention(Protocol):
    """The retention purge (privacy.retention_days): personal data is dropped once a case is done."""

    def purgeable_cases(self, before: datetime) -> list[str]:
        """Cases finished before ``before``: not open, no pending timer, details not yet purged."""

    def purge_case(self, case_id: str, now: datetime) -> None:
        """Keep the N numbers; drop names, dates of birth, address, reason, contacts and emails sent."""

    def purge_old_emails(self, before: datetime) -> int:
        """Empty the stored copy of every email sent or refused before ``before``; returns how many."""


class StoreTransaction(MessageLog, CaseRecords, BookingRecords, Outbox, Timers, History, Retention, Measures, Protocol):
    """One unit of work: everything done through it commits or rolls back together."""


class Store(AdapterState, Protocol):
    """The bot's database: cases, bookings, seen messages, the outbox, timers and the history."""

    def migrate(self, now: datetime | None = None) -> str:
        """Bring the schema up to date, in place, keeping every row; returns the revision reached."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """A unit of work, committed when the block ends and rolled back if it raises.

        Units of work do not nest (opening one inside another is a ``RuntimeError``).
        Inside a ``batch`` it is durable when the batch commits; one that raises spoils the batch (``BatchSpoiled``).
        """

    def batch(self) -> AbstractContextManager[None]:
        """Group commit: the units of work inside commit together, with one flush to disk.

        Callers act on the outcome (moving mail out of the inbox) only after the batch has
        committed. Batches do not nest, nor open inside a unit of work.
        """

    def dispose(self) -> None:
        """Close every connection; the store is not used after this."""
