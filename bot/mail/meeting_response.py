"""An attendee's answer to the bot's invitation, read from an iCalendar REPLY or Outlook's subject (§3.6)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from icalendar import Calendar

from bot.domain.responses import MeetingResponse

_SUBJECT = re.compile(r"^\s*(accepted|declined|tentative(?:ly accepted)?)\s*:", re.IGNORECASE)


def read_meeting_response(msg: EmailMessage, sender: str | None) -> MeetingResponse | None:
    """PARTSTAT and ATTENDEE of a METHOD:REPLY part; else the ``Declined:`` subject and the sender."""
    for part in msg.walk():
        if part.get_content_type() != "text/calendar":
            continue
        found = _from_calendar(part)
        if found is not None:
            return found
    match = _SUBJECT.match(str(msg.get("Subject", "") or ""))
    if match is None or not sender:
        return None
    word = match.group(1).lower()
    partstat = "TENTATIVE" if word.startswith("tentative") else word.upper()
    return MeetingResponse(partstat, sender.lower())


def _from_calendar(part: EmailMessage) -> MeetingResponse | None:
    try:
        payload = part.get_payload(decode=True)
        calendar = Calendar.from_ical(payload if isinstance(payload, bytes) else str(part.get_payload()))
    except Exception:  # noqa: BLE001 - a malformed calendar part is read as no answer
        return None
    if str(calendar.get("METHOD", "")).upper() != "REPLY":
        return None
    for event in calendar.walk("VEVENT"):
        attendee = event.get("ATTENDEE")
        if isinstance(attendee, list):
            attendee = attendee[0] if attendee else None
        if attendee is None:
            continue
        address = re.sub(r"^mailto:", "", str(attendee), flags=re.IGNORECASE).strip().lower()
        partstat = str(attendee.params.get("PARTSTAT", "")).upper() if hasattr(attendee, "params") else ""
        uid = str(event.get("UID")) if event.get("UID") else None
        if address and partstat:
            return MeetingResponse(partstat, address, uid)
    return None
