"""Reading requests (domain.md §2) over a corpus of realistic emails: Outlook tables, charsets, forwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import parse_summary
from bot.config import load_config
from bot.domain.message_text import message_text
from bot.domain.n_numbers import find_n_numbers, normalise_n_number
from bot.domain.quoted_text import strip_quoted
from bot.domain.urgent_screening import screen_urgent_indicators

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_config(None)

# file → what a person reading the email would take from it.
CORPUS: dict[str, dict[str, Any]] = {
    "examples/01-standard-plain.eml": {
        "kind": "standard",
        "n_numbers": ["N146782"],
        "surname": "Bond",
        "requester": ("Alex Morgan", "Team Manager", "01632 960123", "alex.morgan@council.example"),
        "complex": False,
        "health_rep": "safeguarding.health@nhs.example",
        "invitees": ["dsl@northtown-primary.council.example"],
        "missing": [],
    },
    "examples/02-standard-outlook-html.eml": {
        "kind": "standard",
        "n_numbers": ["N204518"],
        "surname": "Okafor",
        "requester": ("Sam Whitfield", "Practice Manager", "07700 900456", "sam.whitfield@council.example"),
        "complex": False,
        "health_rep": "named.nurse@nhs.example",
        "invitees": ["head@easton-academy.council.example"],
        "missing": [],
    },
    "examples/03-urgent-s47.eml": {
        "kind": "urgent",
        "n_numbers": ["N311907"],
        "surname": "Lewis",
        "requester": ("Chris Adeyemi", "Team Manager", "07700 900789", "chris.adeyemi@council.example"),
        "missing": [],
        "urgent_indicators": ["non_mobile_injury"],
    },
    "examples/04-standard-complex-siblings.eml": {
        "n_numbers": ["N402210", "N402211", "N402212"],
        "surname": "Patel-Hughes",
        "requester": ("Morgan Reid", "Practice Manager", "01632 960555", "morgan.reid@council.example"),
        "complex": True,
        "invitees": ["attendance@council.example", "idva@council.example"],
        "missing": [],
    },
    "examples/05-standard-missing-fields.eml": {
        "n_numbers": ["N518833"],
        "surname": None,
        "requester": ("Jo Mensah", None, None, "jo.mensah@council.example"),
        "missing": ["surname", "contact_number"],
    },
    "examples/06-standard-windows-1252-base64.eml": {
        "n_numbers": ["N620144"],
        "surname": "Ó Súilleabháin",
        "requester": ("Siân O’Brien", "Practice Manager", "01632 960777", "sian.obrien@council.example"),
        "health_rep": "renee.gp.safeguarding@nhs.example",
        "missing": [],
    },
    "examples/07-unrecognised.eml": {"kind": "unrecognised", "n_numbers": []},
    "examples/08-out-of-office.eml": {"kind": "auto", "is_reply": False},
    "examples/09-standard-urgent-indicators.eml": {"urgent_indicators": ["home_alone"], "missing": []},
    "examples/11-reply-contacted.eml": {"is_reply": True, "n_numbers": ["N311907"]},
    "tests/fixtures/eml/forwarded-outlook.eml": {
        "kind": "standard",
        "is_reply": True,
        "n_numbers": ["N146790"],
        "surname": "Fairweather",
        # The forwarding manager takes the request on; the top part's number wins.
        "requester": ("Alex Morgan", None, "01632 960999", "alex.morgan@council.example"),
        "health_rep": "hv.team@nhs.example",
        "missing": [],
    },
    "tests/fixtures/eml/quoted-printable-soft-breaks.eml": {
        "n_numbers": ["N557201"],
        "surname": "Harrington-Smythe",
        "requester": ("Jo Mensah", "Team Manager", "+44 7700 900321", "jo.mensah@council.example"),
        "complex": True,
        "missing": [],
    },
    "tests/fixtures/eml/unknown-charset.eml": {
        "n_numbers": ["N612345"],
        "surname": "Nowak",
        "requester": ("Pat Kowalski", "Team Manager", "01632 960444", "pat.kowalski@council.example"),
        "missing": [],
    },
    "tests/fixtures/eml/html-only-base64.eml": {
        "n_numbers": ["N700001"],
        "surname": "Quinn",
        "requester": ("Morgan Reid", "Practice Manager", "(01632) 960 101", "morgan.reid@council.example"),
        "invitees": ["dsl@quinn-school.council.example"],
        "missing": [],
        "urgent_indicators": ["sexual_abuse"],
    },
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_email_reads_as_a_person_would_read_it(name: str) -> None:
    summary = parse_summary((REPO / name).read_bytes(), CONFIG)
    expected = CORPUS[name]
    for key, value in expected.items():
        if key == "requester":
            got = summary["requester"]
            assert (got["name"], got["role"], got["phone"], got["email"]) == value
        else:
            assert summary[key] == value, key


def test_the_reason_runs_over_several_lines_and_unknown_charsets_still_read() -> None:
    import email
    import email.policy

    raw = (REPO / "tests/fixtures/eml/unknown-charset.eml").read_bytes()
    text = message_text(email.message_from_bytes(raw, policy=email.policy.default)).plain
    assert "Zoë disclosed" in text
    forwarded = (REPO / "tests/fixtures/eml/forwarded-outlook.eml").read_bytes()
    msg = email.message_from_bytes(forwarded, policy=email.policy.default)
    assert strip_quoted(message_text(msg).plain).endswith("Contact number: 01632 960999")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Child N146782 and sibling n 146783, also N-146784.", ["N146782", "N146783", "N146784"]),
        ("N146782 again N146782", ["N146782"]),
        ("UN12345 and N1234 and N123456789", []),
        ("N12345 and N12345678", ["N12345", "N12345678"]),
    ],
)
def test_n_numbers(text: str, found: list[str]) -> None:
    assert find_n_numbers(text) == found


def test_single_n_number_normalised() -> None:
    assert normalise_n_number(" n-146782 ") == "N146782"
    assert normalise_n_number("N146782 N146783") is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Clear allegation of sexual abuse by uncle.", ["sexual_abuse"]),
        ("Bruising to a 3-month-old non-mobile baby.", ["non_mobile_injury"]),
        ("Suspected fractured arm, admitted to hospital.", ["serious_physical_injury"]),
        ("Domestic violence last night; the child was hurt when a plate was thrown.", ["dv_child_injured"]),
        ("Mother, who is pregnant, was punched by her partner.", ["dv_pregnancy"]),
        ("The children were left home alone for two days.", ["home_alone"]),
        ("Missing for over 24 hours, found in another town.", ["missing_child"]),
        ("Concerns that she is being sexually exploited; CSE screening done.", ["sexual_exploitation"]),
        ("Neglect concerns raised by school; poor attendance.", []),
    ],
)
def test_urgent_threshold_screening(text: str, codes: list[str]) -> None:
    assert screen_urgent_indicators(text) == codes


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_reading_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    import email
    import email.policy

    msg = email.message_from_bytes(data, policy=email.policy.default)
    message_text(msg)
    summary = parse_summary(data, CONFIG)
    assert all(n.startswith("N") and n[1:].isdigit() for n in summary["n_numbers"])
