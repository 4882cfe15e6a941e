"""The labels staff write before each field of the county's request template (domain.md §2)."""

from __future__ import annotations

import re
from functools import lru_cache

# Field → the labels staff use for it, as written in templates and by hand.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "n_number": (
        "n number",
        "n numbers",
        "n no",
        "n nos",
        "child id",
        "child ids",
        "childs id",
        "carefirst id",
        "care first id",
        "carefirst number",
        "care first number",
        "carefirst",
        "child reference",
        "child ref",
        "case reference",
        "case ref",
        "child reference number",
    ),
    "surname": (
        "surname",
        "surnames",
        "childrens surname",
        "childrens surnames",
        "childs surname",
        "child surname",
        "family surname",
        "family name",
        "surname of children",
        "surname of child",
        "surname of the children",
    ),
    "children": (
        "childrens names and dates of birth",
        "childrens names and dob",
        "childrens names and dobs",
        "child names and dob",
        "childrens names",
        "children names",
        "names and dates of birth",
        "names and dob",
        "childs name and dob",
        "child name and dob",
        "childs name",
        "child name",
        "children",
        "child",
        "child details",
        "childrens details",
    ),
    "address": ("address", "home address", "family address", "childs address", "childrens address", "current address"),
    "requester": (
        "requesting manager",
        "requested by",
        "manager",
        "manager name",
        "name of manager",
        "tm pm",
        "name of tm pm",
        "team manager",
        "practice manager",
        "requesting team manager",
        "requesting practice manager",
        "requesting tm pm",
        "requesting tm",
        "requesting pm",
        "requesting manager name",
        "tm",
        "pm",
        "team manager practice manager",
    ),
    "role": ("role", "manager role", "job title", "requesting manager role"),
    "phone": (
        "contact number",
        "contact no",
        "contact telephone",
        "contact telephone number",
        "contact phone",
        "contact",
        "telephone",
        "telephone number",
        "tel",
        "tel no",
        "phone",
        "phone number",
        "mobile",
        "mobile number",
        "number police can call on",
        "direct line",
        "number to call",
    ),
    "social_worker": ("social worker", "allocated social worker", "sw", "allocated worker"),
    "social_worker_email": (
        "social worker email",
        "social worker e-mail",
        "social workers email",
        "social worker's email",
        "sw email",
        "allocated social worker email",
    ),
    "reason": (
        "reason for strategy discussion",
        "reason for the strategy discussion",
        "reason for strategy meeting",
        "reason for request",
        "reason for discussion",
        "reason",
        "reasons",
        "presenting issue",
        "presenting issues",
        "concerns",
        "summary of concerns",
        "reason for strategy discussion presenting issue",
    ),
    "complex": (
        "longer slot needed",
        "longer slot",
        "longer slot required",
        "complex",
        "complex case",
        "complex case longer slot needed",
        "is this complex",
        "longer slot needed complex",
    ),
    "health_rep": ("health representative", "health rep", "health", "health representative email", "health attendee"),
    "invitees": (
        "other professionals",
        "other professionals to invite",
        "professionals to invite",
        "invitees",
        "also invite",
        "referrer",
        "school",
        "nursery",
        "school or nursery",
        "school nursery",
        "other attendees",
        "others to invite",
        "other agencies",
    ),
    "emergency_action": (
        "emergency action",
        "emergency action taken",
        "emergency action taken when",
        "epo",
        "epo police protection",
        "epo or police protection",
        "emergency protection order",
        "police protection",
        "police protection epo",
    ),
}

_LABEL_TO_FIELD = {label: name for name, labels in SYNONYMS.items() for label in labels}


_PLURAL = re.compile(r"\(s\)|\(es\)")
_BRACKETED = re.compile(r"\([^)]*\)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# Labels are short; a longer "label" is read each time rather than remembered.
_REMEMBERED_LENGTH = 100


def normalise_label(label: str) -> str:
    """'**Children’s Surname(s):**' → 'childrens surname'."""
    text = label.replace("’", "'").replace("'", "").lower()
    text = _PLURAL.sub("", text)
    text = _BRACKETED.sub(" ", text)
    text = _NOT_WORD.sub(" ", text)
    return text.strip()


_BY_LENGTH = sorted(_LABEL_TO_FIELD, key=len, reverse=True)


def field_for(label: str) -> str | None:
    """The template field a label names, or None.

    An exact synonym first; else the longest synonym the label starts with, so that
    "Contact number police can call on" reads as the contact number.
    """
    return _remembered_field(label) if len(label) <= _REMEMBERED_LENGTH else _field(label)


def _field(label: str) -> str | None:
    text = normalise_label(label)
    exact = _LABEL_TO_FIELD.get(text)
    if exact is not None or len(text.split()) > 8:
        return exact
    for synonym in _BY_LENGTH:
        if len(synonym) > 3 and text.startswith(synonym + " "):
            return _LABEL_TO_FIELD[synonym]
    return None


# Every line of every message is asked about; the same few dozen labels come back each time.
_remembered_field = lru_cache(maxsize=2048)(_field)
