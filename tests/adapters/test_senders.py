"""Contract of the MailSender port: SMTP against a real aiosmtpd server on loopback, and Maildir."""

from __future__ import annotations

import mailbox
import os
import ssl
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.maildir_sender import MaildirSender
from bot.adapters.smtp_sender import SmtpSender
from bot.config import ConfigError, SmtpConfig, parse_config
from bot.errors import PermanentError, TransientError
from bot.ports import MailSender
from tests.support.dovecot import REPO
from tests.support.mail_servers import (
    HOST,
    PASSWORD,
    USER,
    Certificate,
    LineServer,
    SmtpServer,
    trusting,
)
from tests.support.port_contracts import SenderContract, SenderUnderTest
from tests.support.ports import Ports

PASSWORD_ENV = "TEST_STRATEGY_BOT_SMTP_PASSWORD"
BOT = "strategy-bot@police.example"
TEAM_MANAGER = "alex.morgan@council.example"
DUTY_DS = "duty.ds@police.example"
UNKNOWN = "nobody@police.example"
BUSY = "busy@council.example"


def email_bytes(n: int = 1, eol: bytes = b"\r\n") -> bytes:
    lines = [
        b"From: Strategy discussion bot <strategy-bot@police.example>",
        b"To: alex.morgan@council.example",
        b"Cc: duty.ds@police.example",
        f"Subject: Strategy discussion N14678{n} booked".encode(),
        f"Message-ID: <confirm-{n}@police.example>".encode(),
        b"",
        b"Booked for Wednesday 25 November 2026, 10:00-10:15.",
        b".A line starting with a dot must survive SMTP's dot-stuffing.",
        b"",
    ]
    return eol.join(lines)


@pytest.fixture
def submission(start_server: Callable[..., SmtpServer], submission_options: dict[str, Any]) -> SmtpServer:
    """A submission server as the bot meets it: STARTTLS required, then AUTH required."""
    return start_server(**submission_options)


def smtp_config(
    port: int, security: str = "starttls", username: str | None = USER, ca_file: Path | None = None
) -> SmtpConfig:
    return SmtpConfig(
        host=HOST,
        port=port,
        security=security,
        username=username,
        password_env=PASSWORD_ENV if username else None,
        timeout_seconds=120.0,  # an overall bound only: a busy machine may be slow
        ca_file=ca_file,
    )


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.fixture
def senders() -> Iterator[Callable[..., SmtpSender]]:
    made: list[SmtpSender] = []

    def make(cfg: SmtpConfig, ssl_context: ssl.SSLContext | None = None) -> SmtpSender:
        sender = SmtpSender(cfg, ssl_context)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


@pytest.fixture
def sender(
    password: None,
    submission: SmtpServer,
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> SmtpSender:
    return senders(smtp_config(submission.port), trusting(certs["server"]))


# -- SMTP ------------------------------------------------------------------------------------


def test_the_email_arrives_unchanged_with_the_envelope_we_gave(sender: SmtpSender, submission: SmtpServer) -> None:
    port: MailSender = sender
    port.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER, DUTY_DS])

    [got] = submission.handler.received
    assert got.mail_from == BOT
    assert got.rcpt_tos == [TEAM_MANAGER, DUTY_DS]
    assert got.content == email_bytes(1)
    assert got.login == USER.encode()


def test_bare_line_feeds_go_out_as_crlf(sender: SmtpSender, submission: SmtpServer) -> None:
    sender.send("<confirm-2@police.example>", email_bytes(2, eol=b"\n"), BOT, [TEAM_MANAGER])
    [got] = submission.handler.received
    assert got.content == email_bytes(2, eol=b"\r\n")


def test_a_5xx_for_the_recipient_is_permanent_and_names_the_code(sender: SmtpSender, submission: SmtpServer) -> None:
    submission.handler.refuse[UNKNOWN] = "550 5.1.1 user unknown"
    with pytest.raises(PermanentError, match=r"550.*user unknown") as caught:
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [UNKNOWN])
    assert UNKNOWN in str(caught.value)
    assert submission.handler.received == []


def test_a_4xx_for_the_recipient_is_transient(sender: SmtpSender, submission: SmtpServer) -> None:
    submission.handler.refuse[BUSY] = "451 4.3.0 try later"
    with pytest.raises(TransientError, match=r"451.*try later"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [BUSY])
    assert submission.handler.received == []


def test_one_recipient_refused_of_two_is_permanent_so_the_other_is_not_sent_it_twice(
    sender: SmtpSender, submission: SmtpServer
) -> None:
    submission.handler.refuse[BUSY] = "451 4.3.0 try later"
    with pytest.raises(PermanentError, match=rf"accepted .*{TEAM_MANAGER}.*{BUSY}: 451"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER, BUSY])
    [got] = submission.handler.received
    assert got.rcpt_tos == [TEAM_MANAGER]


@pytest.mark.parametrize(
    ("reply", "error"),
    [("554 5.6.0 content rejected", PermanentError), ("452 4.3.1 out of storage", TransientError)],
)
def test_a_refused_message_body_maps_by_code(
    sender: SmtpSender, submission: SmtpServer, reply: str, error: type[Exception]
) -> None:
    submission.handler.data_reply = reply
    with pytest.raises(error, match=reply.split()[0]):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])


def test_a_wrong_password_is_permanent(
    monkeypatch: pytest.MonkeyPatch,
    submission: SmtpServer,
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    sender = senders(smtp_config(submission.port), trusting(certs["server"]))
    with pytest.raises(PermanentError, match=f"login refused for {USER}.*535"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    assert submission.handler.received == []


def test_a_certificate_the_client_does_not_trust_is_permanent(
    password: None,
    submission: SmtpServer,
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> None:
    sender = senders(smtp_config(submission.port), trusting(certs["stranger"]))
    with pytest.raises(PermanentError, match=f"TLS certificate check failed for {HOST}:{submission.port}"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    assert submission.handler.received == []


def test_the_default_context_checks_certificates(
    password: None, submission: SmtpServer, senders: Callable[..., SmtpSender]
) -> None:
    sender = senders(smtp_config(submission.port))  # system CAs: our test CA is not among them
    with pytest.raises(PermanentError, match="TLS certificate check failed"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])


def test_a_server_that_does_not_offer_starttls_gets_nothing(
    password: None, start_server: Callable[..., SmtpServer], senders: Callable[..., SmtpSender]
) -> None:
    plain = start_server()
    sender = senders(smtp_config(plain.port), ssl.create_default_context())
    with pytest.raises(PermanentError, match="server does not offer STARTTLS"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    assert plain.handler.received == []


def test_a_server_that_is_down_is_transient_and_named(senders: Callable[..., SmtpSender], ports: Ports) -> None:
    port = ports.take()  # held by the allocator for the session: nothing listens there, nor can
    assert ports.refuses(port)
    sender = senders(smtp_config(port, security="none", username=None))
    with pytest.raises(TransientError, match=f"{HOST}:{port}"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_trusting_the_ca_file_from_the_config(
    password: None,
    start_server: Callable[..., SmtpServer],
    smtps_options: dict[str, Any],
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> None:
    smtps = start_server(**smtps_options)
    sender = senders(smtp_config(smtps.port, security="tls", ca_file=certs["server"].cert))
    sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    [got] = smtps.handler.received
    assert (got.rcpt_tos, got.content, got.login) == ([TEAM_MANAGER], email_bytes(), USER.encode())
    assert sender.check() == []


def test_starttls_trusting_the_ca_file_from_the_config(
    password: None, submission: SmtpServer, certs: dict[str, Certificate], senders: Callable[..., SmtpSender]
) -> None:
    sender = senders(smtp_config(submission.port, ca_file=certs["server"].cert))
    sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    [got] = submission.handler.received
    assert (got.rcpt_tos, got.content, got.login) == ([TEAM_MANAGER], email_bytes(), USER.encode())
    assert sender.check() == []
    # Another CA in ca_file: the server's certificate is not trusted, the system's CAs are not asked.
    stranger = senders(smtp_config(submission.port, ca_file=certs["stranger"].cert))
    assert stranger.check() == [
        f"SMTP: TLS certificate check failed for {HOST}:{submission.port}: self-signed certificate"
    ]


# -- check-config's words ------------------------------------------------------------------------


def smtp_starttls_then_hang_up(line: bytes) -> tuple[bytes, bool]:
    """An SMTP server that offers STARTTLS, says go ahead, and closes instead of shaking hands."""
    command = line.split(b" ", 1)[0].strip().upper()
    if command in (b"EHLO", b"HELO"):
        return b"250-fake.police.example\r\n250 STARTTLS\r\n", True
    if command == b"STARTTLS":
        return b"220 2.0.0 Ready to start TLS\r\n", False
    return b"502 5.5.2 not here\r\n", True


def test_check_names_a_broken_tls_handshake_as_such(
    password: None,
    line_server: Callable[..., LineServer],
    start_server: Callable[..., SmtpServer],
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> None:
    hangs_up = line_server(b"220 fake.police.example ESMTP\r\n", smtp_starttls_then_hang_up)
    sender = senders(smtp_config(hangs_up.port, ca_file=certs["server"].cert))
    expected = (
        f"TLS handshake with {HOST}:{hangs_up.port} failed: the server closed the connection during the handshake"
    )
    assert sender.check() == [f"SMTP: {expected}"]
    with pytest.raises(TransientError) as caught:  # worth retrying: the server may mend
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    assert str(caught.value) == expected

    plain = start_server()  # implicit TLS to a server that speaks plain SMTP
    [problem] = senders(smtp_config(plain.port, security="tls", ca_file=certs["server"].cert)).check()
    assert problem.startswith(f"SMTP: TLS handshake with {HOST}:{plain.port} failed: ")
    assert "[SSL" not in problem and "_ssl.c" not in problem


def test_check_names_a_refused_login(
    monkeypatch: pytest.MonkeyPatch,
    submission: SmtpServer,
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    [problem] = senders(smtp_config(submission.port, ca_file=certs["server"].cert)).check()
    assert problem.startswith(f"SMTP: login refused for {USER} by {HOST}:{submission.port}: 535 ")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert senders(smtp_config(submission.port, ca_file=certs["server"].cert)).check() == []


def test_plain_smtp_without_login(start_server: Callable[..., SmtpServer], senders: Callable[..., SmtpSender]) -> None:
    plain = start_server()
    sender = senders(smtp_config(plain.port, security="none", username=None))
    sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    [got] = plain.handler.received
    assert (got.mail_from, got.rcpt_tos, got.content, got.login) == (
        BOT,
        [TEAM_MANAGER],
        email_bytes(),
        None,
    )


def test_one_connection_serves_many_sends_and_is_reopened_after_the_server_drops_it(
    sender: SmtpSender, submission: SmtpServer
) -> None:
    submission.handler.refuse[UNKNOWN] = "550 5.1.1 user unknown"
    sender.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])
    with pytest.raises(PermanentError):
        sender.send("<confirm-2@police.example>", email_bytes(2), BOT, [UNKNOWN])
    sender.send("<confirm-3@police.example>", email_bytes(3), BOT, [TEAM_MANAGER])

    submission.drop_connections()
    sender.send("<confirm-4@police.example>", email_bytes(4), BOT, [DUTY_DS])

    first, third, fourth = submission.handler.received
    assert [m.content for m in (first, third, fourth)] == [email_bytes(1), email_bytes(3), email_bytes(4)]
    assert first.peer == third.peer  # reused, even after a refusal
    assert fourth.peer != first.peer  # a new connection after the drop
    assert fourth.rcpt_tos == [DUTY_DS] and fourth.login == USER.encode()


def test_a_server_gone_since_the_last_send_is_transient(sender: SmtpSender, submission: SmtpServer) -> None:
    sender.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])
    submission.drop_connections()
    submission.controller.stop()
    with pytest.raises(TransientError, match=f"{HOST}:{submission.port}"):
        sender.send("<confirm-2@police.example>", email_bytes(2), BOT, [TEAM_MANAGER])


# -- Maildir ---------------------------------------------------------------------------------


def delivered(folder: Path) -> list[bytes]:
    return [p.read_bytes() for sub in ("new", "cur") for p in sorted((folder / sub).iterdir())]


def test_maildir_sender_writes_the_email_unchanged_as_delivered_mail(tmp_path: Path) -> None:
    sent = tmp_path / "data" / "sent"
    port: MailSender = MaildirSender(sent)
    port.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER, DUTY_DS])
    port.send("<confirm-2@police.example>", email_bytes(2), BOT, [TEAM_MANAGER])

    assert sorted(delivered(sent)) == sorted([email_bytes(1), email_bytes(2)])
    assert os.listdir(sent / "tmp") == []
    box = mailbox.Maildir(sent, create=False)
    assert sorted(m["Message-ID"] for m in box) == [
        "<confirm-1@police.example>",
        "<confirm-2@police.example>",
    ]


def test_maildir_sender_sending_the_same_message_id_twice_leaves_one_file(tmp_path: Path) -> None:
    sent = tmp_path / "sent"
    sender = MaildirSender(sent)
    sender.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])
    sender.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])
    assert delivered(sent) == [email_bytes(1)]

    # Still one after a mail client has read it (moved to cur/, flagged) and after a restart.
    [name] = os.listdir(sent / "new")
    os.rename(sent / "new" / name, sent / "cur" / f"{name}:2,S")
    MaildirSender(sent).send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])
    assert delivered(sent) == [email_bytes(1)]
    assert os.listdir(sent / "tmp") == []


def test_maildir_sender_cannot_write_is_transient_and_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the Maildir should be")
    sender = MaildirSender(blocker / "sent")
    with pytest.raises(TransientError, match=str(blocker / "sent")):
        sender.send("<confirm-1@police.example>", email_bytes(1), BOT, [TEAM_MANAGER])


class TestSmtpSenderContract(SenderContract):
    @pytest.fixture
    def sender_under_test(
        self, submission: SmtpServer, certs: dict[str, Certificate], password: None, senders: Callable[..., SmtpSender]
    ) -> SenderUnderTest:
        sender = senders(smtp_config(submission.port), trusting(certs["server"]))
        return SenderUnderTest(sender, lambda: [(r.rcpt_tos, r.content) for r in submission.handler.received])


class TestMaildirSenderContract(SenderContract):
    @pytest.fixture
    def sender_under_test(self, tmp_path: Path) -> SenderUnderTest:
        return SenderUnderTest(
            MaildirSender(tmp_path / "sent"), lambda: [(None, raw) for raw in delivered(tmp_path / "sent")]
        )


# -- the [sender.smtp] config ----------------------------------------------------------------


def parsed_smtp(tmp_path: Path, **keys: object) -> SmtpConfig:
    data = tomllib.loads((REPO / "config.example.toml").read_text(encoding="utf-8"))
    data["sender"]["kind"] = "smtp"
    data["sender"]["smtp"] = {"host": "smtp.police.example", **keys}
    smtp = parse_config(data, tmp_path, "bot.toml").sender.smtp
    assert smtp is not None
    return smtp


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_the_default_port_follows_the_security(tmp_path: Path, security: str, port: int) -> None:
    host = "127.0.0.1" if security == "none" else "smtp.police.example"
    keys: dict[str, object] = {"host": host} if security == "starttls" else {"host": host, "security": security}
    smtp = parsed_smtp(tmp_path, **keys)
    assert (smtp.security, smtp.port) == (security, port)
    assert parsed_smtp(tmp_path, host=host, security=security, port=2525).port == 2525


def test_security_none_is_refused_unless_the_server_is_on_this_machine(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parsed_smtp(tmp_path, security="none")
    assert str(caught.value) == (
        "sender.smtp.security: got \"none\" with sender.smtp.host = 'smtp.police.example'; "
        'expected "tls" or "starttls", since "none" sends the password and the mail in clear text '
        "and is allowed only for a server on this machine (localhost, 127.0.0.0/8 or ::1)"
    )
    with pytest.raises(ConfigError, match="sender.smtp.security: got \"none\" with sender.smtp.host = '192.0.2.7'"):
        parsed_smtp(tmp_path, security="none", host="192.0.2.7")
    for host in ("127.0.0.1", "127.0.0.53", "::1", "localhost"):
        assert parsed_smtp(tmp_path, security="none", host=host).host == host


def test_ca_file_is_read_from_the_config_and_must_exist(tmp_path: Path, certs: dict[str, Certificate]) -> None:
    assert parsed_smtp(tmp_path).ca_file is None
    assert parsed_smtp(tmp_path, ca_file=str(certs["server"].cert)).ca_file == certs["server"].cert
    (tmp_path / "ca.pem").write_text("a PEM file")
    assert parsed_smtp(tmp_path, ca_file="ca.pem").ca_file == tmp_path / "ca.pem"  # beside the config file
    with pytest.raises(ConfigError) as caught:
        parsed_smtp(tmp_path, ca_file="missing.pem")
    assert (
        str(caught.value)
        == f"sender.smtp.ca_file: got {str(tmp_path / 'missing.pem')!r}; expected an existing PEM file"
    )
