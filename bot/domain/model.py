"""The things the procedure talks about: requests, cases, bookings, the emails the bot sends."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, tzinfo
from enum import StrEnum


class Kind(StrEnum):
    """What an incoming email is, by domain.md §1."""

    URGENT = "urgent"
    STANDARD = "standard"
    AUTO = "auto"
    UNRECOGNISED = "unrecognised"


class CaseState(StrEnum):
    """Where a case stands. Transitions live in ``bot.domain.case_states``."""

    AWAITING_INFORMATION = "awaiting_information"  # a required field is missing (§2)
    BOOKED = "booked"  # standard: slot in the strategy calendar (§3)
    NEEDS_PERSON = "needs_person"  # standard: no free slot within the horizon (§3.3)
    AWAITING_CONTACT = "awaiting_contact"  # urgent: the one-hour call-back clock runs (§4)
    CONTACTED = "contacted"  # urgent: police have rung the TM/PM
    HELD = "held"  # the discussion took place; minutes clock runs (§5)
    CANCELLED = "cancelled"
    CLOSED = "closed"


# The fields a request must carry (domain.md §2), as named in `strategy-bot parse` output.
REQUIRED_FIELDS = ("n_number", "surname", "requester_name", "contact_number", "reason")


@dataclass(frozen=True)
class Requester:
    """The Team Manager / Practice Manager who asked for the discussion."""

    name: str | None = None
    role: str | None = None  # "Team Manager" or "Practice Manager" as written
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class EmergencyAction:
    """An EPO or police protection already taken (§2): the discussion is due within one working day of it (§3.4)."""

    taken: str  # "EPO", "police protection", or "emergency action" when the value names neither
    day: date | None = None  # as the request says; None: the day the request was received stands in
    time_of_day: time | None = None


@dataclass(frozen=True)
class RequestDetails:
    """What the bot read from a request (domain.md §2). Personal data: never logged."""

    n_numbers: tuple[str, ...] = ()
    surname: str | None = None
    children: str | None = None  # names and dates of birth, free text, minutes template only
    address: str | None = None
    requester: Requester = field(default_factory=Requester)
    social_worker: str | None = None
    reason: str | None = None
    complex: bool = False
    health_rep: str | None = None
    invitees: tuple[str, ...] = ()
    emergency_action: EmergencyAction | None = None
    # §5 Mobile families: the receiving authority named by MOVED, in privacy.receiving_authority_domains;
    # allowed recipients of this case's emails though not in trust.recipient_domains.
    receiving_authority: tuple[str, ...] = ()

    def missing(self, kind: Kind) -> list[str]:
        """The required fields not supplied, in the order of ``REQUIRED_FIELDS``.

        The children's surname is required for STANDARD requests only (§2): an urgent
        request is rung through, not booked under a name.
        """
        absent = {
            "n_number": not self.n_numbers,
            "surname": kind is not Kind.URGENT and not self.surname,
            "requester_name": not self.requester.name,
            "contact_number": not self.requester.phone,
            "reason": not self.reason,
        }
        return [name for name in REQUIRED_FIELDS if absent[name]]

    def completed_by(self, reply: RequestDetails) -> RequestDetails:
        """These details with the blanks filled from a reply in the thread (§2, §6).

        What the original request said stands; a reply only fills gaps and adds
        N numbers and invitees that were not there.
        """
        requester = Requester(
            name=self.requester.name or reply.requester.name,
            role=self.requester.role or reply.requester.role,
            phone=self.requester.phone or reply.requester.phone,
            email=self.requester.email or reply.requester.email,
        )
        return replace(
            self,
            n_numbers=_merge(self.n_numbers, reply.n_numbers),
            surname=self.surname or reply.surname,
            children=self.children or reply.children,
            address=self.address or reply.address,
            requester=requester,
            social_worker=self.social_worker or reply.social_worker,
            reason=self.reason or reply.reason,
            complex=self.complex or reply.complex,
            health_rep=self.health_rep or reply.health_rep,
            invitees=_merge(self.invitees, reply.invitees),
            emergency_action=self.emergency_action or reply.emergency_action,
        )


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


def wall_clock(moment: datetime, tz: tzinfo) -> str:
    """A moment as the people reading the history, status or an alert read it: "Mon 23 Nov 2026 09:00"."""
    return f"{moment.astimezone(tz):%a %d %b %Y %H:%M}"


@dataclass(frozen=True)
class Interval:
    """A span of time; both ends timezone-aware. ``end`` is exclusive."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class CalendarEvent:
    """An event in the strategy calendar. Subject and location carry N numbers only (§3.5, §7)."""

    uid: str
    subject: str
    start: datetime
    end: datetime
    body: str = ""
    location: str = ""
    attendees: tuple[str, ...] = ()
    organizer: str = ""
    sequence: int = 0
    private: bool = True
    # The urgent meeting agreed by phone (§4.4) goes in at its time whatever is there already:
    # the calendar does not refuse it for an overlap, and no rota booking is moved for it.
    may_overlap: bool = False


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    data: bytes
    inline_alternative: bool = False  # True: an alternative body part (iCalendar invitations)
    params: tuple[tuple[str, str], ...] = ()  # extra Content-Type params, e.g. (("method", "REQUEST"),)
    # An image the HTML shows as ``cid:<content_id>`` (multipart/related): Outlook shows no data: URI in mail.
    content_id: str = ""


@dataclass(frozen=True)
class OutgoingEmail:
    """One email the bot sends; ``message_id`` is deterministic: case and purpose."""

    purpose: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    case_id: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Case:
    """Everything the bot holds about one request (domain.md "Words")."""

    case_id: str
    kind: Kind
    state: CaseState
    details: RequestDetails
    root_message_id: str
    received_at: datetime
    effective_day: str | None = None  # ISO date, standard requests
    clock_start: datetime | None = None  # urgent requests (§4.1)


@dataclass(frozen=True)
class Booking:
    """A case's place in the strategy calendar."""

    case_id: str
    uid: str
    start: datetime
    end: datetime
    sequence: int = 0
    status: str = "booked"
