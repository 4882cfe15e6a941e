"""What the rules decide for a case, as data: the service carries a decision out in one unit of work.

A decision names its next state, the emails to send (to roles, resolved to addresses by the
service), the timers to set and cancel, the one change that needs the calendar or another
case, and the lines for the case's history. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.model import Attachment, Booking, Case, CaseState, RequestDetails
from bot.domain.purposes import Purpose
from bot.domain.rota import Schedule, TimerSettings, UrgentSettings
from bot.domain.working_days import WorkingDays


class Role(StrEnum):
    """The people an email goes to by their role in the county's arrangements; configured addresses."""

    DUTY_DS = "duty_ds"
    REFERRAL_UNIT = "referral_unit"
    ADMIN_SUPPORT = "admin_support"
    MASH_SERVICE_MANAGER = "mash_service_manager"  # escalation_120 and its repeats (§4.3)


# An email goes to roles, or to an address the decision names (the sender of a reply).
Recipient = Role | str


class Attach(StrEnum):
    """What an email carries beside its text."""

    INVITATION = "invitation"  # iCalendar METHOD:REQUEST for the case's booking
    MINUTES_PACK = "minutes_pack"  # the Word document to fill in (§5)


@dataclass(frozen=True)
class Mail:
    """One email to send: its purpose (and so its template), recipients and the case's facts for it."""

    purpose: Purpose
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...] = ()
    context: Mapping[str, object] = field(default_factory=dict)
    attach: Attach | None = None
    files: tuple[Attachment, ...] = ()  # sent as they are (the minutes circulated, §5)


@dataclass(frozen=True)
class CaseTimer:
    """A deadline of a case: to set, still pending, or (as an event) one whose time has come.

    ``scope`` says what the timer is about (a booking and its sequence, ``urgent``, ``outcome``),
    so that its key names what it is, never when it is: a booking moved to a time whose
    reminder falls at the same instant still gets its reminder.
    """

    purpose: Purpose
    due: datetime
    scope: str = ""
    detail: str = ""


@dataclass(frozen=True)
class TimersToCancel:
    """Pending timers to stop: of these purposes (all when None), of this scope (any when None)."""

    purposes: frozenset[Purpose] | None = None
    scope: str | None = None


# -- changes the service carries out with the calendar or other cases --------------------------


@dataclass(frozen=True)
class Move:
    """§6 ``RESCHEDULE``/``COMPLEX``: the next free slot after the current one (in place when lengthened)."""

    make_complex: bool


@dataclass(frozen=True)
class CancelBooking:
    """§6 ``CANCEL``: free the slot and tell everyone invited."""

    by: str


@dataclass(frozen=True)
class FamilyMoved:
    """§5 Mobile families: a new discussion within the configured hours, with the receiving authority."""

    invitees: tuple[str, ...]


@dataclass(frozen=True)
class Overrun:
    """§5 Overrun: every TM/PM booked later that day is told of a potential delay."""

    minutes: int


@dataclass(frozen=True)
class UrgentMeeting:
    """§4.4 ``CONTACTED <time>``: the urgent meeting agreed by phone, put in the strategy calendar at ``start``."""

    start: datetime


@dataclass(frozen=True)
class FurtherDiscussion:
    """§5 ``FURTHER``: a further discussion for the same children, booked as a new case linked to this one."""


Change = Move | CancelBooking | FamilyMoved | Overrun | UrgentMeeting | FurtherDiscussion


@dataclass(frozen=True)
class Note:
    """One line of the case's history: what was done, and what tells it apart (never personal data)."""

    action: str
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    """What should happen to a case. ``applies`` False: the command does not fit the case as it stands."""

    state: CaseState | None = None
    details: RequestDetails | None = None
    emails: tuple[Mail, ...] = ()
    set_timers: tuple[CaseTimer, ...] = ()
    cancel_timers: tuple[TimersToCancel, ...] = ()
    change: Change | None = None
    effective_day: date | None = None  # the referral's effective day, once booked (§3.1)
    history: tuple[Note, ...] = ()
    applies: bool = True
    # A timer that finds its case no longer needs it (police rang before the escalation was due).
    needed: bool = True
    # Why the sender's reply was not (wholly) carried out: they get ``command_refused`` saying so.
    refused: str | None = None


NOT_APPLICABLE = Decision(applies=False)
NOT_NEEDED = Decision(needed=False)


# -- what the rules are given --------------------------------------------------------------------


@dataclass(frozen=True)
class CaseView:
    """A case with the facts the rules need about it: its booking, its pending timers, its outcome."""

    case: Case
    booking: Booking | None = None
    pending: tuple[CaseTimer, ...] = ()
    outcome: str | None = None
    held_at: datetime | None = None  # when HELD was recorded (§5: urgent timescales count from it)
    contacted_at: datetime | None = None  # when police contact was recorded (§4)

    def pending_of(self, purposes: frozenset[Purpose]) -> list[CaseTimer]:
        return [t for t in self.pending if t.purpose in purposes]


@dataclass(frozen=True)
class Policy:
    """The deployment's policy values the rules work from (the rota, the call-back, the allowed domains)."""

    schedule: Schedule
    timers: TimerSettings
    days: WorkingDays
    tz: ZoneInfo
    urgent: UrgentSettings
    recipient_domains: tuple[str, ...]
    max_minutes_attachment_bytes: int  # §5: larger minutes are not sent on
    # §5 Mobile families: where a receiving authority may be reached ([privacy] receiving_authority_domains).
    receiving_authority_domains: tuple[str, ...]
    close_after_days: int  # §5 Closing a case: [cases] close_after_days


def booking_scope(booking: Booking) -> str:
    """The scope of a booking's timers: its uid and sequence, so a moved booking's are new ones."""
    return f"{booking.uid}#{booking.sequence}"
