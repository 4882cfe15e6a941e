"""`strategy-bot quarantine` on a real Dovecot: the IMAP inbox's Quarantine folder listed, shown, released, deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from bot.ports import Folder
from bot.wiring import build, build_inbox
from tests.support.dovecot import IMAP_PASSWORD_ENV, Dovecot, bot_config, start_dovecot
from tests.support.mail_servers import PASSWORD, Certificate
from tests.support.ports import Ports
from tests.support.requests_mail import london, request_email

AT = london("2030-11-25 09:00")


@pytest.fixture
def dovecot(tmp_path: Path, certs: dict[str, Certificate], ports: Ports) -> Iterator[Dovecot]:
    server = start_dovecot(tmp_path / "dovecot", certs["server"], ports=ports)
    yield server
    server.stop()


def handle_inbox(config_path: Path) -> list[str]:
    """One round as the daemon does it: each message handled, then moved to its folder; the outcomes."""
    config = load_config(config_path)
    bot = build(config, with_mail=False)
    inbox = build_inbox(config, bot.store)  # type: ignore[arg-type]
    outcomes = []
    try:
        for mail in list(inbox.pending()):
            result = bot.service.handle(mail, AT)
            outcomes.append("duplicate" if result.duplicate else result.outcome)
            inbox.move(mail.key, result.folder)
    finally:
        inbox.close()  # type: ignore[attr-defined]
        bot.close()
    return outcomes


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_quarantine_commands_on_dovecot(
    tmp_path: Path, dovecot: Dovecot, ports: Ports, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IMAP_PASSWORD_ENV, PASSWORD)
    config_path = bot_config(tmp_path, dovecot, ports.take())
    dovecot.deliver(request_email(AT, sender="x <x@evil.example>", message_id="<spam@evil.example>"))
    # A real request that a hiccup quarantined: no DMARC verdict from the trusted server.
    dovecot.deliver(request_email(AT, message_id="<held@council.example>", auth=None, surname="Bondarenko"))
    assert handle_inbox(config_path) == ["quarantine", "quarantine"]
    assert sorted(dovecot.message_ids("Quarantine")) == ["<held@council.example>", "<spam@evil.example>"]

    code, out, _ = cli(capsys, "quarantine", "list", "--config", str(config_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Quarantine (Quarantine, imap): 2 message(s)"
    by_sender = {line.split()[6]: line for line in lines[1:]}
    assert "sender domain evil.example is not in trust.sender_domains" in by_sender["x@evil.example"]
    held = by_sender["alex.morgan@council.example"]
    assert "no dmarc=pass from mx.police.example" in held and "Bondarenko" not in out
    held_uid, spam_uid = held.split()[0], by_sender["x@evil.example"].split()[0]
    assert held_uid.isdigit() and spam_uid.isdigit()

    code, out, _ = cli(capsys, "quarantine", "show", held_uid, "--config", str(config_path))
    assert code == 0 and "Message-ID: <held@council.example>" in out and "Bondarenko" not in out
    code, out, _ = cli(capsys, "quarantine", "show", held_uid, "--body", "--config", str(config_path))
    assert code == 0 and "Children's surname: Bondarenko" in out

    # Released into INBOX with its authentication fixed by the relay (a second delivery is
    # what a real site sees); here the same bytes come back and are handled, not swallowed.
    code, out, _ = cli(capsys, "quarantine", "release", held_uid, "--by", "sam", "--config", str(config_path))
    assert code == 0 and "<held@council.example> released" in out
    assert dovecot.message_ids("INBOX") == ["<held@council.example>"]
    assert dovecot.message_ids("Quarantine") == ["<spam@evil.example>"]
    assert handle_inbox(config_path) == ["quarantine"]  # handled again (still no DMARC): not a duplicate

    code, out, _ = cli(capsys, "quarantine", "delete", spam_uid, "--by", "sam", "--config", str(config_path))
    assert code == 0 and "<spam@evil.example> deleted" in out
    assert dovecot.message_ids("Quarantine") == ["<held@council.example>"]
    code, _, err = cli(capsys, "quarantine", "delete", spam_uid, "--config", str(config_path))
    assert code == 1 and "no message" in err

    config = load_config(config_path)
    bot = build(config, with_mail=False)
    try:
        with bot.store.transaction() as tx:
            notes = [(h.actor, h.action) for h in tx.history(None) if h.actor == "sam"]
    finally:
        bot.close()
    assert notes == [("sam", "released"), ("sam", "quarantine_deleted")]
    assert Folder.QUARANTINE  # the folder the inbox moved them to is the one the command reads
