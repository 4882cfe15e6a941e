"""MIME nested thousands of levels deep (issue 19 Why 9): refused by the depth cap, keeping its Message-ID and time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.ports import Folder, IncomingMail
from bot.wiring import Bot
from tests.support.requests_mail import london

T0 = london("2026-11-23 09:00")


def deep_mime(depth: int) -> bytes:
    """A request whose body is ``depth`` multiparts one inside the other, a line of text at the bottom."""
    lines = [
        "Received: from mail.council.example by mx.police.example; Mon, 23 Nov 2026 09:00:00 +0000",
        "From: Alex Morgan <alex.morgan@council.example>",
        "To: referrals@police.example",
        "Subject: Strategy discussion N146782",
        "Message-ID: <deep@council.example>",
        "Date: Mon, 23 Nov 2026 09:00:00 +0000",
        "MIME-Version: 1.0",
    ]
    for level in range(depth):
        lines += [f'Content-Type: multipart/mixed; boundary="b{level}"', "", f"--b{level}"]
    lines += ["Content-Type: text/plain", "", "N number: N146782"]
    lines += [f"--b{level}--" for level in reversed(range(depth))]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize("depth", [11, 2000])
def test_deep_nesting_is_refused_by_the_cap_and_keeps_its_message_id(bot: Bot, depth: int) -> None:
    cap = bot.config.inbox.max_mime_depth
    result = bot.service.handle(IncomingMail("k", deep_mime(depth), T0), T0)
    assert result.folder is Folder.QUARANTINE  # type: ignore[attr-defined]
    assert result.message_id == "<deep@council.example>"  # type: ignore[attr-defined]
    assert f"MIME nested more than {cap} levels deep" in (result.reason or "")  # type: ignore[attr-defined]
    assert "RecursionError" not in (result.reason or "")  # type: ignore[attr-defined]
    again = bot.service.handle(IncomingMail("k2", deep_mime(depth), T0), T0)
    assert again.duplicate  # type: ignore[attr-defined]


def test_a_message_just_within_the_cap_is_read(bot: Bot) -> None:
    result = bot.service.handle(IncomingMail("k", deep_mime(bot.config.inbox.max_mime_depth - 1), T0), T0)
    assert "MIME nested" not in (result.reason or "")  # type: ignore[attr-defined]


def test_replay_keeps_the_deep_message_s_time_and_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.eml"
    path.write_bytes(deep_mime(2000))
    assert main(["replay", str(path)]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    received = events[0]
    assert received["event"] == "received" and received["message_id"] == "<deep@council.example>"
    assert received["at"] == "2026-11-23T09:00:00+00:00"  # not 1970
    [quarantined] = [e for e in events if e["event"] == "quarantined"]
    assert "MIME nested more than 10 levels deep" in quarantined["reason"]
