"""Reading the county's request template from an email, leniently (domain.md §2)."""

from __future__ import annotations

import re
from email.message import EmailMessage

from bot.domain.classify import date_header, sender_address
from bot.domain.emergency import read_emergency_action
from bot.domain.message_text import MessageText, message_text
from bot.domain.model import EmergencyAction, Kind, RequestDetails, Requester
from bot.domain.n_numbers import find_n_numbers
from bot.domain.quoted_text import strip_quoted
from bot.domain.template_labels import field_for, normalise_label
from bot.domain.trust import addresses_written

_LABEL_LINE = re.compile(r"^\s*[*•·\-–>]*\s*([A-Za-z][A-Za-z'’/()&.\- ]{0,70}?)\s*[:：]\s*(.*)$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_PHONE = re.compile(r"\+?\(?\d[\d\s\-().]*\d(?:\s*(?:ext|extn|extension|x)\.?\s*\d+)?", re.I)
_YES = {"yes", "y", "true", "required", "needed", "yes please", "x"}


def _pairs(plain: str, rows: tuple[tuple[str, str], ...]) -> list[tuple[str, str, str]]:
    """(field, label, value) in reading order: labelled lines of the text, then table rows."""
    found: list[tuple[str, str, str]] = []
    lines = plain.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        match = _LABEL_LINE.match(lines[i])
        name = field_for(match.group(1)) if match else None
        if match is None or name is None:
            i += 1
            continue
        value = match.group(2).strip()
        j = i + 1
        if not value:
            # The value on the next non-empty line, unless that line is itself a label.
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and not _is_label_line(lines[j]):
                value = lines[j].strip()
                j += 1
        if name in ("reason", "children", "address") and value:
            # These run over several lines: up to a blank line or the next label.
            while j < len(lines) and lines[j].strip() and not _is_label_line(lines[j]):
                value += " " + lines[j].strip()
                j += 1
        found.append((name, match.group(1), value.strip(" |")))
        i = j
    for label, value in rows:
        name = field_for(label.rstrip(":： "))
        if name is not None:
            found.append((name, label, value))
    return found


def _is_label_line(line: str) -> bool:
    match = _LABEL_LINE.match(line)
    return bool(match and field_for(match.group(1)))


def phone_in(text: str) -> str | None:
    """The first UK-style phone number in ``text`` (at least 6 digits), whitespace-normalised."""
    for match in _PHONE.finditer(text):
        candidate = re.sub(r"\s+", " ", match.group(0)).strip(" -.")
        if sum(ch.isdigit() for ch in candidate) >= 6:
            return candidate
    return None


def normalise_role(text: str | None) -> str | None:
    if not text:
        return None
    lowered = normalise_label(text)
    if re.search(r"\b(team manager|tm)\b", lowered):
        return "Team Manager"
    if re.search(r"\b(practice manager|pm)\b", lowered):
        return "Practice Manager"
    return text.strip() or None


def _label_role(label: str) -> str | None:
    """The role a requester label names by itself (``Practice Manager:``); none for ``TM/PM``, which names both."""
    lowered = normalise_label(label)
    names_tm = bool(re.search(r"\b(team manager|tm)\b", lowered))
    names_pm = bool(re.search(r"\b(practice manager|pm)\b", lowered))
    if names_tm == names_pm:
        return None
    return "Team Manager" if names_tm else "Practice Manager"


# In a forwarding manager's own lines ("Alex Morgan | Team Manager"), the role in full words;
# not "the practice manager's request", which names someone else.
_SIGNATURE_ROLE = re.compile(r"\b(team|practice)\s+manager\b(?!\s*['’]s\b)", re.I)


def _signature_role(top: str) -> str | None:
    for line in top.splitlines():
        match = _SIGNATURE_ROLE.search(line)
        if match:
            return normalise_role(match.group(0))
    return None


def _same_person(name: str | None, other: str | None) -> bool:
    def words(text: str | None) -> list[str]:
        return re.findall(r"[a-z]+", (text or "").lower())

    return bool(words(name)) and words(name) == words(other)


def _split_name_and_role(value: str) -> tuple[str | None, str | None]:
    """'Alex Morgan, Team Manager' or 'Alex Morgan (PM)' → name and role."""
    match = re.match(r"^(.*?)[\s,(\-–/]+(team manager|practice manager|tm|pm)\)?\s*$", value, re.I)
    if match and match.group(1).strip():
        return match.group(1).strip(" ,"), normalise_role(match.group(2))
    name = _EMAIL.sub("", value)
    phone = phone_in(name)
    if phone:
        name = name.replace(phone, "")
    name = name.strip(" ,;()-")
    return (name or None), None


def read_request(
    msg: EmailMessage,
    kind: Kind,
    *,
    text: MessageText | None = None,
    sender: tuple[str | None, str | None] | None = None,
) -> RequestDetails:
    """The request's fields (§2). What is near the top wins over what a forwarded original says lower down.

    ``kind`` is accepted so the reading can differ by route; today both routes read the
    same template. ``text`` and ``sender`` are the message's ``message_text`` and
    ``sender_address`` when the caller has them already.
    """
    del kind
    text = message_text(msg) if text is None else text
    pairs = _pairs(text.plain, text.table_rows)
    first: dict[str, str] = {}
    for field_name, _label, value in pairs:
        if value and field_name not in first:
            first[field_name] = value
    requester_label_role = next(
        (_label_role(label) for name, label, value in pairs if name == "requester" and value and _label_role(label)),
        None,
    )

    subject = str(msg.get("Subject", "") or "")
    numbers = find_n_numbers(first.get("n_number", ""))
    if not numbers:
        numbers = find_n_numbers(subject + "\n" + text.plain + "\n" + " ".join(v for _, v in text.table_rows))

    display_name, address = sender_address(msg) if sender is None else sender
    name: str | None = None
    role: str | None = None
    top = strip_quoted(text.plain)
    quoted_below = top != text.plain.strip()
    # Only what is written above quoted text can be a forwarding sender's own lines.
    top_pairs = _pairs(top, ()) if quoted_below else []
    forwarded_by_sender = quoted_below and not any(f == "requester" for f, _, _ in top_pairs)
    if "requester" in first:
        name, role = _split_name_and_role(first["requester"])
    role = normalise_role(first.get("role")) or role or requester_label_role
    if forwarded_by_sender and display_name:
        # A manager forwarding someone else's request takes it on: the confirmation and the
        # police call-back go to the person who sent it. Their role is what they wrote above
        # the forwarded part, or what the forwarded template says of them when it names them.
        own_role = next((normalise_role(v) for f, _, v in top_pairs if f == "role" and v), None)
        role = own_role or _signature_role(top) or (role if _same_person(name, display_name) else None)
        name = display_name
    phone = phone_in(first.get("phone", "")) or (phone_in(first["requester"]) if "requester" in first else None)

    health = addresses_written(first.get("health_rep", ""), _EMAIL)
    health_rep = health[0].lower() if health else None
    invitees: list[str] = []
    for field_name, _label, value in pairs:
        if field_name == "invitees":
            invitees.extend(addresses_written(value, _EMAIL))
    invitees = [e for e in dict.fromkeys(invitees) if e != health_rep and e != address]

    complex_value = normalise_label(first.get("complex", ""))
    return RequestDetails(
        n_numbers=tuple(numbers),
        surname=_clean(first.get("surname")),
        children=_clean(first.get("children")),
        address=_clean(first.get("address")),
        requester=Requester(name=name or display_name, role=role, phone=phone, email=address),
        social_worker=_social_worker(first),
        reason=_clean(first.get("reason")),
        complex=complex_value in _YES or complex_value.startswith("yes"),
        health_rep=health_rep,
        invitees=tuple(invitees),
        emergency_action=_emergency_action(msg, pairs),
    )


def _emergency_action(msg: EmailMessage, pairs: list[tuple[str, str, str]]) -> EmergencyAction | None:
    """§2: the first emergency-action field with a value; "yesterday" and year-less dates read from the Date header."""
    found = next(((label, value) for name, label, value in pairs if name == "emergency_action" and value), None)
    if found is None:
        return None
    sent = date_header(msg)
    return read_emergency_action(found[0], found[1], sent.date() if sent else None)


def _social_worker(first: dict[str, str]) -> str | None:
    """§2: the social worker's name and email, from ``Social worker:`` and ``Social worker email:``."""
    name = _clean(first.get("social_worker"))
    found = _EMAIL.findall(first.get("social_worker_email", ""))
    if not found or (name and found[0].lower() in name.lower()):
        return name
    return f"{name} <{found[0].lower()}>" if name else found[0].lower()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = re.sub(r"\s+", " ", value).strip(" |")
    if value.lower() in ("", "n/a", "na", "none", "tbc", "-", "unknown"):
        return None
    return value
