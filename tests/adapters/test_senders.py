"""Contract of the MailSender port: SMTP against a real aiosmtpd server on loopback, and Maildir."""

from __future__ import annotations

import mailbox
import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mail_servers import (
    HOST,
    PASSWORD,
    USER,
    Certificate,
    SmtpServer,
    authenticator,
    free_port,
    server_context,
    trusting,
)
from port_contracts import SenderContract, SenderUnderTest

from bot.adapters.maildir_sender import MaildirSender
from bot.adapters.smtp_sender import SmtpSender
from bot.config import SmtpConfig
from bot.errors import PermanentError, TransientError
from bot.ports import MailSender

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
def submission(start_server: Callable[..., SmtpServer], certs: dict[str, Certificate]) -> SmtpServer:
    """A submission server as the bot meets it: STARTTLS required, then AUTH required."""
    return start_server(
        tls_context=server_context(certs["server"]),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )


def smtp_config(port: int, security: str = "starttls", username: str | None = USER) -> SmtpConfig:
    return SmtpConfig(
        host=HOST,
        port=port,
        security=security,
        username=username,
        password_env=PASSWORD_ENV if username else None,
        timeout_seconds=5.0,
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


def test_a_server_that_is_down_is_transient_and_named(senders: Callable[..., SmtpSender]) -> None:
    port = free_port()  # nothing listens there
    sender = senders(smtp_config(port, security="none", username=None))
    with pytest.raises(TransientError, match=f"{HOST}:{port}"):
        sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls(
    password: None,
    start_server: Callable[..., SmtpServer],
    certs: dict[str, Certificate],
    senders: Callable[..., SmtpSender],
) -> None:
    smtps = start_server(
        ssl_context=server_context(certs["server"]),
        authenticator=authenticator,
        auth_required=True,
        # aiosmtpd counts only STARTTLS as TLS; this whole connection is TLS from the start.
        auth_require_tls=False,
    )
    sender = senders(smtp_config(smtps.port, security="tls"), trusting(certs["server"]))
    sender.send("<confirm-1@police.example>", email_bytes(), BOT, [TEAM_MANAGER])
    [got] = smtps.handler.received
    assert (got.rcpt_tos, got.content, got.login) == ([TEAM_MANAGER], email_bytes(), USER.encode())


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
