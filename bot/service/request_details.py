"""What a request says and lacks: the urgent-threshold screening, and asking for missing fields (§1, §2)."""

from __future__ import annotations

from bot.domain.cases import InformationMissing
from bot.domain.model import Case, RequestDetails
from bot.domain.urgent_screening import URGENT_CRITERIA, screen_urgent_indicators
from bot.mail.reading import MessageReading
from bot.service.unit import Unit

# What the bot asks for when a required field is missing (domain.md §2): the words the
# TM/PM reads, and the template label they copy into their reply.
MISSING_FIELD_WORDING: dict[str, tuple[str, str]] = {
    "n_number": ("the child's N number (for example N146782)", "N number:"),
    "surname": ("the children's surname", "Children's surname:"),
    "requester_name": ("your name and role (Team Manager or Practice Manager)", "Requesting manager:"),
    "contact_number": ("a contact number", "Contact number:"),
    "reason": ("the reason for the strategy discussion", "Reason for strategy discussion:"),
}


def indicators(details: RequestDetails, reading: MessageReading) -> tuple[str, ...]:
    """§1 urgent-threshold screening of a request completed by a reply: its reason and the reply's text."""
    text = "\n".join(filter(None, [details.reason, reading.plain]))
    return tuple(URGENT_CRITERIA[code] for code in screen_urgent_indicators(text))


def ask_for(unit: Unit, case: Case, missing: list[str], urgent_indicators: tuple[str, ...]) -> None:
    """§2: the sender told exactly what is missing, with the labels to copy into a reply."""
    event = InformationMissing(
        tuple(MISSING_FIELD_WORDING[f][0] for f in missing),
        tuple(MISSING_FIELD_WORDING[f][1] for f in missing),
        tuple(missing),
        urgent_indicators,
    )
    unit.decide(case, event)
