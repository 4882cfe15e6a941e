"""The command words staff put on the first line of a reply in a case's thread (domain.md §6)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.purposes import Outcome

_COMMAND = re.compile(
    r"^\s*(?P<word>CONTACTED|HELD|CANCEL(?:LED)?|RESCHEDULE|COMPLEX|DELAY|MINUTES\s+SHARED|OUTCOME|MOVED)\b[\s:,-]*"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Command:
    word: str  # CONTACTED, HELD, CANCEL, RESCHEDULE, COMPLEX, DELAY, MINUTES SHARED, OUTCOME
    minutes: int | None = None  # DELAY
    outcome: Outcome | None = None  # OUTCOME
    invitees: tuple[str, ...] = ()  # MOVED: the receiving authority's addresses


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
    if word == "MOVED":
        addresses = re.findall(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", top_text)
        return Command(word, invitees=tuple(dict.fromkeys(a.lower() for a in addresses)))
    return Command(word)
