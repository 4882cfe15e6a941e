"""`strategy-bot check-config` logs in to the IMAP and SMTP servers it names and says what is wrong in plain words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.support.deploy import init
from tests.support.dovecot import IMAP_USER, Dovecot, bot_config, start_dovecot
from tests.support.mail_servers import HOST, PASSWORD, USER, Certificate, SmtpServer, authenticator, server_context
from tests.support.ports import Ports

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dovecot(tmp_path: Path, certs: dict[str, Certificate], ports: Ports) -> Iterator[Dovecot]:
    server = start_dovecot(tmp_path / "dovecot", certs["server"], ports=ports)
    yield server
    server.stop()


def config_file(
    folder: Path,
    imap: Dovecot,
    smtp_port: int,
    smtp_security: str = "none",
    folder_name: str = "INBOX",
    smtp: dict[str, object] | None = None,
) -> Path:
    login = (USER, "TEST_SMTP_PASSWORD") if smtp_security != "none" else None
    path = bot_config(
        folder,
        imap,
        smtp_port,
        smtp_security=smtp_security,
        smtp_login=login,
        inbox={"folder": folder_name},
        smtp=smtp,
    )
    return init(path)  # the data folder and database check-config requires


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out


@pytest.fixture
def passwords(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    return monkeypatch


def test_servers_that_answer_are_ok(
    tmp_path: Path,
    dovecot: Dovecot,
    start_server: Callable[..., SmtpServer],
    submission_options: dict[str, Any],
    certs: dict[str, Certificate],
    passwords: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Submission with STARTTLS and login, trusting the council's own CA named in sender.smtp.ca_file.
    smtp = start_server(**submission_options)
    ca_file = {"ca_file": str(certs["server"].cert)}
    code, out = check(config_file(tmp_path, dovecot, smtp.port, smtp_security="starttls", smtp=ca_file), capsys)
    assert code == 0
    assert f"imap {IMAP_USER} at {HOST}:{dovecot.imaps_port} (tls), folder INBOX" in out
    assert f"smtp at {HOST}:{smtp.port} (starttls)" in out
    assert "  inbox:    ok" in out and "  sender:   ok" in out
    assert "PROBLEM" not in out

    passwords.setenv("TEST_SMTP_PASSWORD", "not the password")
    code, out = check(config_file(tmp_path, dovecot, smtp.port, smtp_security="starttls", smtp=ca_file), capsys)
    assert code == 1
    assert f"  sender:   PROBLEM: SMTP: login refused for {USER} by {HOST}:{smtp.port}: 535 " in out


def test_a_server_that_breaks_the_tls_handshake_is_named(
    tmp_path: Path,
    dovecot: Dovecot,
    start_server: Callable[..., SmtpServer],
    certs: dict[str, Certificate],
    passwords: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = start_server()  # speaks plain SMTP where implicit TLS is configured
    tls = {"ca_file": str(certs["server"].cert)}
    code, out = check(config_file(tmp_path, dovecot, plain.port, smtp_security="tls", smtp=tls), capsys)
    assert code == 1
    assert f"  sender:   PROBLEM: SMTP: TLS handshake with {HOST}:{plain.port} failed: " in out
    assert "cannot reach" not in out and "unexpectedly" not in out


def test_a_refused_login_a_missing_folder_and_an_untrusted_certificate_are_named(
    tmp_path: Path,
    dovecot: Dovecot,
    start_server: Callable[..., SmtpServer],
    certs: dict[str, Certificate],
    passwords: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The SMTP server's certificate is one the system does not trust.
    smtp = start_server(tls_context=server_context(certs["server"]), authenticator=authenticator)
    passwords.setenv("TEST_IMAP_PASSWORD", "not the password")
    code, out = check(config_file(tmp_path, dovecot, smtp.port, smtp_security="starttls"), capsys)
    assert code == 1
    assert f"  inbox:    PROBLEM: IMAP: login refused for {IMAP_USER} by {HOST}:{dovecot.imaps_port}" in out
    assert f"  sender:   PROBLEM: SMTP: TLS certificate check failed for {HOST}:{smtp.port}" in out

    passwords.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    code, out = check(config_file(tmp_path, dovecot, smtp.port, folder_name="Referrals"), capsys)
    assert code == 1
    assert f"PROBLEM: IMAP: the watched folder 'Referrals' does not exist on {HOST}:{dovecot.imaps_port}" in out


def test_servers_that_are_down_are_named(
    tmp_path: Path,
    dovecot: Dovecot,
    start_server: Callable[..., SmtpServer],
    ports: Ports,
    passwords: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    smtp = start_server()
    assert smtp.greets() and dovecot.answering() == {dovecot.imap_port, dovecot.imaps_port}
    smtp.controller.stop()
    dovecot.stop()
    # Down, and nothing else in their place: the allocator holds their ports for the session, so no
    # other process on the machine can listen there, and a connection is refused.
    assert not smtp.greets() and not dovecot.answering()
    for port in (smtp.port, dovecot.imaps_port):
        assert ports.held(port) and ports.refuses(port)
    code, out = check(config_file(tmp_path, dovecot, smtp.port), capsys)
    assert code == 1
    # In words, not errnos ("...: 111", "[Errno 111] Connection refused").
    assert (
        f"inbox:    PROBLEM: IMAP: cannot reach the IMAP server {HOST}:{dovecot.imaps_port}: connection refused\n"
        in out
    )
    assert f"sender:   PROBLEM: SMTP: cannot reach {HOST}:{smtp.port}: connection refused\n" in out
    assert ": 111" not in out and "Errno" not in out


def test_offline_checks_the_file_only(
    tmp_path: Path, dovecot: Dovecot, passwords: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dovecot.stop()
    code = main(["check-config", "--offline", str(config_file(tmp_path, dovecot, 1))])
    out = capsys.readouterr().out
    assert code == 0 and "configuration is valid" in out and "Connecting" not in out
    assert "personal data at rest: NOT sealed; purged 365 days after a case ends" in out
