"""The command words staff put on the first line of a reply in a case's thread (domain.md §6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from bot.domain.purposes import Outcome
from bot.domain.review_dates import ReviewDate, read_review_date

# "16:00", "16.00", "4pm", "4.30 pm", "at 1600": a clock time, never a date or a phone number.
_CLOCK = re.compile(
    r"(?<![\d/:.-])(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2})|(?P<hhmm>\d{2}))?\s*(?P<half>[ap]\.?m\.?)?(?![\d/:.-]*\d)",
    re.IGNORECASE,
)

_MEETING_LEAD = re.compile(r"(?:(?:urgent\s+)?(?:strategy\s+)?meeting\s*)?(?:at|for|@)?\s*", re.IGNORECASE)

_COMMAND = re.compile(
    r"^\s*(?P<word>CONTACTED|HELD|CANCEL(?:LED)?|RESCHEDULE|COMPLEX|DELAY|MINUTES\s+SHARED|OUTCOME|MOVED|REVIEW"
    r"|FURTHER|S47\s+RECORDED|ICPC\s+HELD)\b[\s:,-]*"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Command:
    word: str  # CONTACTED, HELD, CANCEL, RESCHEDULE, COMPLEX, DELAY, MINUTES SHARED, OUTCOME, S47 RECORDED...
    minutes: int | None = None  # DELAY
    outcome: Outcome | None = None  # OUTCOME
    invitees: tuple[str, ...] = ()  # MOVED: the receiving authority's addresses
    meeting_time: time | None = None  # CONTACTED <time>: the urgent meeting agreed by phone (§4.4)
    review: ReviewDate | None = None  # REVIEW <date> (§5)


@dataclass(frozen=True)
class NotUnderstood:
    reason: str


def read_command(top_text: str) -> Command | NotUnderstood | None:
    """The command on the first non-empty line of a reply's own text; None when there is no command word.

    Only the first line counts so that a word quoted or mentioned later in a message is
    never acted on.
    """
    first = next((line for line in top_text.splitlines() if line.strip()), "")
    match = _COMMAND.match(first)
    if match is None:
        return None
    word = " ".join(match.group("word").upper().split())
    word = "CANCEL" if word == "CANCELLED" else word
    rest = match.group("rest").strip()
    if word == "DELAY":
        number = re.match(r"(\d{1,3})\b", rest)
        if number is None or not 1 <= int(number.group(1)) <= 240:
            return NotUnderstood('DELAY needs the number of minutes, for example "DELAY 15".')
        return Command(word, minutes=int(number.group(1)))
    if word == "OUTCOME":
        wanted = " ".join(rest.lower().replace(".", "").split())
        for outcome in Outcome:
            if wanted.startswith(outcome.lower()) or wanted.startswith(outcome.lower().replace(" s47", " section 47")):
                return Command(word, outcome=outcome)
        return NotUnderstood("OUTCOME needs one of: " + ", ".join(Outcome) + ".")
    if word == "CONTACTED":
        return Command(word, meeting_time=meeting_time(rest))
    if word == "REVIEW":
        found = read_review_date(rest)
        if found is None:
            return NotUnderstood('REVIEW needs the date of the review, for example "REVIEW 14/12" or "REVIEW 14 Dec".')
        return Command(word, review=found)
    if word == "MOVED":
        addresses = re.findall(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", top_text)
        return Command(word, invitees=tuple(dict.fromkeys(a.lower() for a in addresses)))
    return Command(word)


def meeting_time(text: str) -> time | None:
    """The meeting time right after the word: ``CONTACTED 16:00``, ``CONTACTED 4pm``, ``CONTACTED meeting
    at 16:00``; None when there is none.

    Only a time at the start counts: in ``CONTACTED - spoke to the TM at 14:25`` the time is
    when they spoke, not a meeting. A bare number is a time only with am/pm or as four
    digits (``1600``): ``CONTACTED 2`` could be anything.
    """
    lead = _MEETING_LEAD.match(text)
    match = _CLOCK.match(text, lead.end() if lead else 0)
    if match is None:
        return None
    hour = int(match.group("hour"))
    minute_text = match.group("minute") or match.group("hhmm")
    half = (match.group("half") or "").lower().replace(".", "")
    if minute_text is None and not half:
        return None
    minute = int(minute_text or 0)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    return time(hour, minute) if hour < 24 and minute < 60 else None
