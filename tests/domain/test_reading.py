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
        # "TM/PM:" names both roles, so it says neither.
        "requester": ("Jo Mensah", None, "+44 7700 900321", "jo.mensah@council.example"),
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


@pytest.mark.parametrize(
    "text",
    [
        "She has been missing from home for over 24 hours.",
        "Missing from home five times in the past two months.",
        "He has been missing five times in two months.",
        "Missing for 30 hours before police found him.",
        "She has gone missing 4 times in the last 90 days.",
        "Missing for twenty-four hours.",
        "Missing for more than 24hrs, returned last night.",
        "Missing for two days over the weekend.",
        "Reported missing on 5 occasions since June.",
        "Five missing episodes since the summer.",
        "He is repeatedly missing from placement.",
        "Missing for the fifth time this month.",
        "Missing overnight again, for the third time this month.",
    ],
)
def test_a_missing_child_is_read_however_it_is_written(text: str) -> None:
    assert screen_urgent_indicators(text) == ["missing_child"]


@pytest.mark.parametrize(
    "text",
    [
        "She is not missing; she is staying with her aunt.",
        "He has never gone missing.",
        "There have been no missing episodes.",
        "He has missed school five times this term.",
        "Missing school 5 times in a month.",
        "Missing appointments on 4 occasions.",
        "Missing from education for 3 weeks.",
        "Missing for 10 hours on Saturday.",
        "Missing twice in two months.",
        "Went missing a week ago and came back after two hours.",
    ],
)
def test_what_is_not_a_missing_child(text: str) -> None:
    assert "missing_child" not in screen_urgent_indicators(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Concerns she has been sexually exploited.", True),
        ("Referred to the CSE panel.", True),
        ("Child sexual exploitation concerns from the school.", True),
        ("She is believed to be being exploited sexually by older males.", True),
        ("Online grooming by an adult.", True),
        ("She is not sexually exploited, as far as we know.", False),
        ("There are no CSE concerns.", False),
        ("Criminal exploitation: carrying drugs for a gang.", False),
    ],
)
def test_sexual_exploitation_is_read_however_it_is_written(text: str, found: bool) -> None:
    assert ("sexual_exploitation" in screen_urgent_indicators(text)) is found


def _request(body: str, sender: str = "Alex Morgan <alex.morgan@council.example>") -> bytes:
    return (
        f"From: {sender}\r\nTo: referrals@police.example\r\nSubject: Strategy discussion N146782\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


# A social worker's request forwarded by the TM who takes it on, as Outlook forwards it.
_FORWARDED = (
    "Please book this one, I am the contact.\r\n\r\n{signature}\r\n\r\n-----Original Message-----\r\n"
    "From: Sam Social <sam.social@council.example>\r\nSent: 22 November 2026 17:02\r\n"
    "To: Alex Morgan <alex.morgan@council.example>\r\nSubject: Strategy discussion N146782\r\n\r\n"
    "N number: N146782\r\nChildren's surname: Bond\r\n{requester}\r\nContact number: 01632 960123\r\n"
    "Reason for strategy discussion: neglect\r\n"
)


@pytest.mark.parametrize(
    ("body", "name", "role"),
    [
        ("Requested by: Jo Bright, Practice Manager\r\n", "Jo Bright", "Practice Manager"),
        ("Requested by: Jo Bright, Team Manager\r\n", "Jo Bright", "Team Manager"),
        ("Requesting TM/PM: Jo Bright (PM)\r\n", "Jo Bright", "Practice Manager"),
        ("Requesting TM/PM: Jo Bright (TM)\r\n", "Jo Bright", "Team Manager"),
        ("Requesting TM/PM:\r\nJo Bright, PM\r\n", "Jo Bright", "Practice Manager"),
        ("Requesting manager: Jo Bright - Practice Manager\r\n", "Jo Bright", "Practice Manager"),
        ("Practice Manager: Jo Bright\r\n", "Jo Bright", "Practice Manager"),
        # "TM/PM" names both roles, so the label alone says neither.
        ("Requesting TM/PM: Jo Bright\r\n", "Jo Bright", None),
        ("Requesting manager: Jo Bright\r\nRole: PM\r\n", "Jo Bright", "Practice Manager"),
        # Forwarded: the forwarding TM takes it on; the template below still reads.
        (
            _FORWARDED.format(signature="Alex", requester="Requesting TM/PM: Alex Morgan (TM)"),
            "Alex Morgan",
            "Team Manager",
        ),
        (
            _FORWARDED.format(
                signature="Alex Morgan | Team Manager | Northtown", requester="Requested by: Jo Bright, PM"
            ),
            "Alex Morgan",
            "Team Manager",
        ),
        # Someone else's role is not the forwarding manager's.
        (
            _FORWARDED.format(signature="Alex", requester="Requested by: Jo Bright, Practice Manager"),
            "Alex Morgan",
            None,
        ),
    ],
)
def test_the_requester_s_role_is_read_as_written(body: str, name: str, role: str | None) -> None:
    summary = parse_summary(_request(body), CONFIG)
    assert (summary["requester"]["name"], summary["requester"]["role"]) == (name, role)


def test_a_forwarded_request_still_reads_its_template() -> None:
    body = _FORWARDED.format(signature="Alex", requester="Requesting TM/PM: Alex Morgan (TM)")
    summary = parse_summary(_request(body), CONFIG)
    assert summary["n_numbers"] == ["N146782"]
    assert summary["surname"] == "Bond"
    assert summary["requester"] == {
        "name": "Alex Morgan",
        "role": "Team Manager",
        "phone": "01632 960123",
        "email": "alex.morgan@council.example",
    }
    assert summary["missing"] == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_reading_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    import email
    import email.policy

    msg = email.message_from_bytes(data, policy=email.policy.default)
    message_text(msg)
    summary = parse_summary(data, CONFIG)
    assert all(n.startswith("N") and n[1:].isdigit() for n in summary["n_numbers"])
