"""What goes out beside the text: the calendar event, its iCalendar invitation, the minutes pack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.booking_rules import attendees, event_subject
from bot.domain.model import Attachment, CalendarEvent, Case, Kind
from bot.domain.urgent_meeting import urgent_meeting_subject
from bot.mail.invitation import invitation
from bot.mail.minutes_pack import MinutesPack, minutes_context, minutes_document, minutes_filename
from bot.service.outbox import base_context
from bot.service.setup import Setup

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def event_uid(setup: Setup, case: Case) -> str:
    return f"{case.case_id}@{setup.config.bot.message_id_domain}"


def event_for(
    setup: Setup,
    case: Case,
    start: datetime,
    end: datetime,
    sequence: int,
    uid: str | None = None,
    urgent: bool = False,
) -> CalendarEvent:
    """The strategy calendar event of domain.md §3.5: N numbers in the subject, nothing else."""
    config = setup.config
    details = case.details
    body = setup.renderer.render_text(
        "event_body.txt.j2",
        {
            **base_context(setup, case),
            "surname": details.surname or "",
            "start": start.astimezone(setup.tz),
            "end": end.astimezone(setup.tz),
        },
    )
    invited, _ = attendees(details, setup.policy.recipient_domains)
    if urgent:
        # §4.4: the urgent meeting includes the duty DS, who agreed it by phone.
        invited = [*invited, setup.config.people.duty_ds]
    return CalendarEvent(
        uid=uid or event_uid(setup, case),
        subject=urgent_meeting_subject(details.n_numbers) if urgent else event_subject(details.n_numbers),
        start=start,
        end=end,
        body=body,
        location=f"{config.conference.venue}: {config.conference.dial_in}",
        attendees=tuple(invited),
        organizer=config.bot.address,
        sequence=sequence,
        private=True,
        may_overlap=urgent,
    )


def invitation_for(setup: Setup, event: CalendarEvent, method: str, now: datetime) -> tuple[Attachment, ...]:
    """The iCalendar invitation to attach, unless the calendar (Exchange) sends its own."""
    if setup.calendar.sends_invitations:
        return ()
    ics = invitation(event, method, setup.tz, setup.config.bot.display_name, now)
    name = "invite.ics" if method == "REQUEST" else "cancel.ics"
    return (Attachment(name, "text/calendar", ics, inline_alternative=True, params=(("method", method),)),)


def _organisation(address: str) -> str:
    return address.rsplit("@", 1)[-1]


def minutes_pack_for(
    setup: Setup, case: Case, start: datetime, invited: Sequence[str]
) -> tuple[dict[str, Any], Attachment]:
    """§5: the minutes pack's email context and its Word document, filled in with what the bot knows."""
    details = case.details
    pack = MinutesPack(
        case_id=case.case_id,
        n_numbers=details.n_numbers,
        surname=details.surname,
        children=details.children,
        address=details.address,
        presenting_issue=details.reason,
        meeting_start=start.astimezone(setup.tz),
        venue=setup.config.conference.venue,
        attendees=tuple((a, _organisation(a)) for a in invited),
        requester_name=details.requester.name,
        requester_role=details.requester.role,
        urgent=case.kind is Kind.URGENT,
    )
    return minutes_context(pack), Attachment(minutes_filename(pack), DOCX, minutes_document(pack))
