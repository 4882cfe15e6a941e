"""The sender of the From most mail has (plain words, then <address>) is read without the full parsers.

``sender_address`` reads ``Name <address>`` and a bare address of letters, digits, dots,
underscores and hyphens directly (issue 18); anything else still goes through both strict
parsers. Each case here is what the service sees as the sender, for the plain forms and for
forms one character away from them.
"""

from __future__ import annotations

import email
import email.policy

import pytest

from bot.domain.classify import sender_address


def _sender(from_value: str) -> tuple[str | None, str | None]:
    raw = f"From: {from_value}\r\nSubject: x\r\n\r\nbody\r\n".encode()
    return sender_address(email.message_from_bytes(raw, policy=email.policy.default))


@pytest.mark.parametrize(
    ("from_value", "expected"),
    [
        ("Alex Morgan <Alex.Morgan@council.example>", ("Alex Morgan", "alex.morgan@council.example")),
        ("Manager 17 <manager_17@council.example>", ("Manager 17", "manager_17@council.example")),
        ("alex-morgan@council.example", (None, "alex-morgan@council.example")),
        ("<alex@council.example>", (None, "alex@council.example")),
        ("Alex   Morgan\r\n <alex@council.example>", ("Alex Morgan", "alex@council.example")),
        # One character away: read by the strict parsers, as before.
        ('"b@council.example" <c@evil.example>', (None, "c@evil.example")),
        ('"Morgan, Alex" <alex@council.example>', ("Morgan, Alex", "alex@council.example")),
        ('"a" <a@x.example>@y.example', (None, None)),
        ("Alex <alex@council.example>, Sam <sam@council.example>", (None, None)),
        ("Alex <alex..morgan@council.example>", (None, None)),
        ("Alex <.alex@council.example>", (None, None)),
        ("Alex <alex@council_example>", (None, None)),
        ("Alex <alex@council>", (None, None)),
        ("Alex <alex@@council.example>", (None, None)),
        ("Alex <alex@council.example", (None, None)),
        ("staff: alex@council.example;", (None, None)),
        ("", (None, None)),
    ],
)
def test_the_sender_read_from_each_from(from_value: str, expected: tuple[str | None, str | None]) -> None:
    assert _sender(from_value) == expected
