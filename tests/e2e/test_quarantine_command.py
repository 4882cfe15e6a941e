"""`strategy-bot quarantine` on a real Maildir: list, show, release (handled again, the admin named), delete."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from bot.daemon import Daemon
from bot.wiring import build
from tests.support.requests_mail import StepClock, london, request_email

REPO = Path(__file__).resolve().parents[2]
AT = london("2030-11-25 09:00")  # a Monday in the future
NURSE = "Nurse Lee <named.nurse@nhs.example>"
NHS_PASS = "mx.police.example; spf=pass smtp.mailfrom=nhs.example; dmarc=pass header.from=nhs.example"


def site(tmp_path: Path, sender_domains: str) -> Path:
    path = tmp_path / "bot.toml"
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    old = 'sender_domains = ["council.example", "police.example", "nhs.example"]'
    assert old in text
    path.write_text(text.replace(old, f"sender_domains = {sender_domains}"), encoding="utf-8")
    return path


def one_round(config_path: Path, *raws: bytes) -> None:
    bot = build(load_config(config_path))
    try:
        for raw in raws:
            bot.inbox.deliver(raw)  # type: ignore[union-attr]
        Daemon(bot, StepClock(AT)).round()
    finally:
        bot.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_show_release_and_delete_on_a_maildir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The health trust's domain is not yet trusted: its nurse's request is quarantined.
    config_path = site(tmp_path, '["council.example", "police.example"]')
    config = load_config(config_path)
    nurse = request_email(AT, sender=NURSE, message_id="<nurse@nhs.example>", surname="Bondarenko", auth=NHS_PASS)
    spam = request_email(
        AT, sender="x <x@evil.example>", message_id="<spam@evil.example>", extra_headers={"X-Trick": "a\x1b[2Jb"}
    )
    one_round(config_path, nurse, spam)
    quarantine = mailbox.Maildir(config.inbox.path / ".Quarantine", factory=None, create=False)
    assert len(quarantine) == 2

    code, out, _ = cli(capsys, "quarantine", "list", "--config", str(config_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Quarantine (Quarantine, maildir): 2 message(s)"
    by_sender = {line.split()[6]: line for line in lines[1:]}
    assert set(by_sender) == {"named.nurse@nhs.example", "x@evil.example"}
    nurse_line = by_sender["named.nurse@nhs.example"]
    assert re.search(r"  \w{3} \d{1,2} \w{3} \d{4} \d{2}:\d{2}  named\.nurse@", nurse_line)  # received, London
    assert "sender domain nhs.example is not in trust.sender_domains" in nurse_line
    assert "Bondarenko" not in out
    nurse_id, spam_id = nurse_line.split()[0], by_sender["x@evil.example"].split()[0]

    code, out, _ = cli(capsys, "quarantine", "show", nurse_id, "--config", str(config_path))
    assert code == 0
    assert "sender domain nhs.example is not in trust.sender_domains" in out.splitlines()[0]
    assert "Message-ID: <nurse@nhs.example>" in out and "From: Nurse Lee <named.nurse@nhs.example>" in out
    assert "Bondarenko" not in out and "--body shows it" in out
    code, out, _ = cli(capsys, "quarantine", "show", nurse_id, "--body", "--config", str(config_path))
    assert code == 0 and "Children's surname: Bondarenko" in out

    # The site now trusts the health domain; the administrator releases the nurse's request.
    config_path = site(tmp_path, '["council.example", "police.example", "nhs.example"]')
    code, out, _ = cli(capsys, "quarantine", "release", nurse_id, "--by", "Sam Admin", "--config", str(config_path))
    assert code == 0 and "<nurse@nhs.example> released" in out
    assert len(quarantine) == 1
    one_round(config_path)  # handled again, not swallowed as a duplicate: booked
    code, out, _ = cli(capsys, "history", "N146782", "--config", str(config_path))
    assert code == 0
    lines = out.splitlines()
    actions = [line[59:].split(":")[0] for line in lines[1:] if line.strip()]
    assert actions[:3] == ["quarantined", "released", "received"], actions
    assert "Sam Admin" in lines[2] and "released: from quarantine by Sam Admin, to be handled again" in lines[2]
    processed = mailbox.Maildir(config.inbox.path / ".Processed", factory=None, create=False)
    assert len(processed) == 1

    code, out, _ = cli(capsys, "quarantine", "show", spam_id, "--body", "--config", str(config_path))
    assert code == 0 and "X-Trick: a?[2Jb" in out and "\x1b" not in out  # no escape reaches the terminal
    code, out, _ = cli(capsys, "quarantine", "delete", spam_id, "--by", "Sam Admin", "--config", str(config_path))
    assert code == 0 and "<spam@evil.example> deleted" in out
    assert len(quarantine) == 0
    code, out, _ = cli(capsys, "quarantine", "list", "--config", str(config_path))
    assert out.splitlines() == ["Quarantine (Quarantine, maildir): 0 message(s)"]

    code, _, err = cli(capsys, "quarantine", "release", spam_id, "--config", str(config_path))
    assert code == 1 and "no message" in err and "Traceback" not in err


def test_on_graph_the_command_says_it_is_not_available(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bot.toml"
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    old = 'kind = "maildir"\npath = "strategy-bot-data/inbox"'
    assert old in text
    text = text.replace(old, 'kind = "graph"')
    path.write_text(text + '\n[graph]\ntenant_id = "t"\nclient_id = "c"\nclient_secret_env = "GRAPH_SECRET"\n')
    code, out, err = cli(capsys, "quarantine", "list", "--config", str(path))
    assert code == 1 and out == ""
    assert err == (
        "strategy-bot quarantine: not available for inbox.kind = 'graph'; "
        "look in the mailbox's 'Quarantine' folder with Outlook\n"
    )
