"""The command words of domain.md §6: read from the first line only, accepted only from those entitled."""

from __future__ import annotations

import pytest

from bot.domain.case_commands import entitled
from bot.domain.commands import Command, NotUnderstood, read_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CONTACTED", Command("CONTACTED")),
        ("  contacted - spoke to TM at 14:25", Command("CONTACTED")),
        ("\n\nHELD\nthanks", Command("HELD")),
        ("Cancel please", Command("CANCEL")),
        ("CANCELLED", Command("CANCEL")),
        ("RESCHEDULE", Command("RESCHEDULE")),
        ("COMPLEX", Command("COMPLEX")),
        ("DELAY 15", Command("DELAY", minutes=15)),
        ("delay: 20 minutes", Command("DELAY", minutes=20)),
        ("MINUTES SHARED", Command("MINUTES SHARED")),
        ("minutes  shared today", Command("MINUTES SHARED")),
        ("OUTCOME joint S47", Command("OUTCOME", outcome="joint S47")),
        ("OUTCOME: Single S.47", Command("OUTCOME", outcome="single S47")),
        ("OUTCOME no further action", Command("OUTCOME", outcome="no further action")),
        ("OUTCOME child in need", Command("OUTCOME", outcome="child in need")),
        (
            "MOVED\nOther professionals to invite: A@Receiving.example",
            Command("MOVED", invitees=("a@receiving.example",)),
        ),
        ("Thanks, see you Wednesday", None),
        ("Please do not CANCEL this", None),  # only a first word counts
    ],
)
def test_read_command(text: str, expected: Command | None) -> None:
    assert read_command(text) == expected


@pytest.mark.parametrize("text", ["DELAY", "DELAY soon", "DELAY 999", "OUTCOME maybe"])
def test_a_command_missing_its_value_is_explained(text: str) -> None:
    assert isinstance(read_command(text), NotUnderstood)


@pytest.mark.parametrize(
    ("word", "sender", "allowed"),
    [
        ("CANCEL", "alex.morgan@council.example", True),  # the requester
        ("CANCEL", "jo.mensah@council.example", False),  # another manager
        ("CANCEL", "sam.carver@police.example", True),  # police
        ("CONTACTED", "ds.one@north.police.example", True),  # a police sub-domain
        ("DELAY", "alex.morgan@council.example", False),  # police only
        ("DELAY", "referrals@police.example", True),
        ("OUTCOME", "eve@police.example.evil", False),
    ],
)
def test_who_may_send_each_word(word: str, sender: str, allowed: bool) -> None:
    assert entitled(word, sender, "alex.morgan@council.example", "police.example") is allowed
