"""The IMAP inbox against a real Dovecot on loopback: IDLE, polling, UIDVALIDITY, restarts, TLS, login."""

from __future__ import annotations

import json
import select
import sqlite3
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.imap_inbox import ImapInbox
from bot.adapters.sql_store import SqlStore
from bot.cli import main
from bot.config import Config, ConfigError, ImapConfig, InboxConfig, SmtpConfig, parse_config
from bot.daemon import Daemon
from bot.errors import PermanentError, TransientError
from bot.ports import Folder
from bot.wiring import build
from tests.support.dovecot import ACCESS_TOKEN, IMAP_USER, REPO, Dovecot, Introspection, bot_config, start_dovecot
from tests.support.mail_servers import HOST, PASSWORD, Certificate, LineServer, SmtpServer, trusting
from tests.support.port_contracts import InboxContract, InboxUnderTest, contract_message, message_id
from tests.support.ports import Ports
from tests.support.requests_mail import StepClock, london, request_email

PASSWORD_ENV = "TEST_STRATEGY_BOT_IMAP_PASSWORD"
FOLDERS = {Folder.PROCESSED: "Processed", Folder.QUARANTINE: "Quarantine", Folder.TRIAGE: "Triage"}


def inbox_config(server: Dovecot | None, security: str = "tls", max_bytes: int = 4096, **imap: object) -> InboxConfig:
    """The inbox on ``server``, or (``server`` None) on the ``port`` and ``ca_file`` given in ``imap``."""
    settings = ImapConfig(
        host=HOST,
        port=(server.imaps_port if security == "tls" else server.imap_port) if server else 0,
        security=security,
        username=IMAP_USER,
        auth="password",
        password_env=PASSWORD_ENV,
        oauth_token_env=None,
        ca_file=server.cert.cert if server else None,
        timeout_seconds=120.0,  # an overall bound only: a busy machine may be slow
        idle=True,
        idle_renew_seconds=1500.0,
        retry_first_seconds=0.01,
        retry_max_seconds=0.05,
    )
    return InboxConfig(
        kind="imap",
        path=Path("unused"),
        poll_seconds=0.05,
        processed_folder="Processed",
        quarantine_folder="Quarantine",
        triage_folder="Triage",
        max_message_bytes=max_bytes,
        max_headers=500,
        max_mime_parts=100,
        max_mime_depth=10,
        folder="INBOX",
        silence_alert_minutes=15,
        imap=replace(settings, **imap),  # type: ignore[arg-type]
    )


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    made = SqlStore(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    made.migrate()
    yield made
    made.dispose()


@pytest.fixture
def dovecots(tmp_path: Path, certs: dict[str, Certificate], ports: Ports) -> Iterator[Callable[..., Dovecot]]:
    started: list[Dovecot] = []

    def start(without: tuple[str, ...] = ()) -> Dovecot:
        server = start_dovecot(tmp_path / f"dovecot{len(started)}", certs["server"], without, ports=ports)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def dovecot(dovecots: Callable[..., Dovecot]) -> Dovecot:
    return dovecots()


@pytest.fixture
def inboxes(store: SqlStore, password: None) -> Iterator[Callable[..., ImapInbox]]:
    made: list[ImapInbox] = []

    def make(cfg: InboxConfig, **kwargs: object) -> ImapInbox:
        inbox = ImapInbox(cfg, store, **kwargs)  # type: ignore[arg-type]
        made.append(inbox)
        return inbox

    yield make
    for inbox in made:
        inbox.close()


class TestImapInboxContract(InboxContract):
    @pytest.fixture
    def inbox_under_test(self, dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> InboxUnderTest:
        inbox = inboxes(inbox_config(dovecot))
        return InboxUnderTest(inbox, dovecot.deliver, lambda f: dovecot.message_ids(FOLDERS[f]), 4096)


def test_fetching_marks_nothing_read_and_moving_creates_the_folders(
    dovecot: Dovecot, inboxes: Callable[..., ImapInbox]
) -> None:
    dovecot.deliver(contract_message(1))
    inbox = inboxes(inbox_config(dovecot))
    [mail] = list(inbox.pending())
    with dovecot.client() as client:
        assert {"Processed", "Quarantine", "Triage"} <= {name for _, _, name in client.list_folders()}
        client.select_folder("INBOX", readonly=True)
        [(_, flags)] = client.get_flags(client.search("ALL")).items()
    assert b"\\Seen" not in flags
    inbox.move(mail.key, Folder.TRIAGE)
    assert dovecot.message_ids("INBOX") == []
    assert dovecot.message_ids("Triage") == ["<contract-1@council.example>"]


def test_the_last_uid_moved_out_is_kept_with_uidvalidity(
    dovecot: Dovecot, inboxes: Callable[..., ImapInbox], store: SqlStore
) -> None:
    for n in (1, 2):
        dovecot.deliver(contract_message(n))
    inbox = inboxes(inbox_config(dovecot))
    first, second = list(inbox.pending())
    inbox.move(second.key, Folder.PROCESSED)
    [state] = [store.get_state(f"imap:{IMAP_USER}@{HOST}:{dovecot.imaps_port}/INBOX")]
    uidvalidity, uid = second.key.split(":")
    assert json.loads(state or "{}") == {"uidvalidity": int(uidvalidity), "last_uid": int(uid)}
    # A restart offers again what is still there, the message handled before included.
    assert [m.key for m in inboxes(inbox_config(dovecot)).pending()] == [first.key]


def test_idle_wakes_the_bot_when_mail_arrives(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    inbox = inboxes(inbox_config(dovecot))
    assert list(inbox.pending()) == []
    assert inbox.wait(0.2) is False  # enters IDLE; nothing came
    timer = threading.Timer(0.3, dovecot.deliver, [contract_message(1)])
    timer.start()
    woken = inbox.wait(180)
    timer.join()
    assert woken is True  # a timeout would have returned False after a minute
    assert inbox.health.idle is True
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]


class SkippingClock:
    """The monotonic clock, moved on by the test: an IDLE falls due for renewal without waiting for it."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped


def test_mail_reported_while_idle_is_renewed_wakes_the_bot(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    clock = SkippingClock()
    inbox = inboxes(inbox_config(dovecot, idle_renew_seconds=1.0), monotonic=clock)
    assert list(inbox.pending()) == []
    assert inbox.wait(0.1) is False  # in IDLE now; nobody reads the connection until the next wait
    dovecot.deliver(contract_message(1))
    watch = inbox.watcher._watch
    assert watch is not None
    assert select.select([watch.socket()], [], [], 180)[0]  # the server's EXISTS waits on the connection, unread
    clock.skipped += 1.5  # and the IDLE is due for renewal
    # Renewing reads it (the answer to DONE): that is new mail, not something to throw away.
    assert inbox.wait(0.1) is True
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]


def test_idle_is_renewed_within_a_long_wait_and_still_wakes_the_bot(
    dovecot: Dovecot, inboxes: Callable[..., ImapInbox]
) -> None:
    inbox = inboxes(inbox_config(dovecot, idle_renew_seconds=1.0))
    assert inbox.wait(0.1) is False
    renewals = []
    renew = inbox.watcher._renew_idle
    inbox.watcher._renew_idle = lambda client: renewals.append(client) or renew(client)  # type: ignore[method-assign]
    started = time.monotonic()
    assert inbox.wait(2.5) is False  # nothing new: the IDLE renewed inside the one wait, and the wait ran out
    assert renewals and time.monotonic() - started >= 2.5
    timer = threading.Timer(1.5, dovecot.deliver, [contract_message(1)])
    timer.start()
    woken = inbox.wait(180)
    timer.join()
    assert woken is True and inbox.health.connected is True


def test_without_idle_the_inbox_polls(dovecots: Callable[..., Dovecot], inboxes: Callable[..., ImapInbox]) -> None:
    server = dovecots(without=("IDLE",))
    slept: list[float] = []
    inbox = inboxes(inbox_config(server), sleep=slept.append)
    assert inbox.wait(5) is False
    assert inbox.health.idle is False
    assert inbox.wait(5) is False
    assert slept == [5, 5]
    server.deliver(contract_message(1))
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]


def test_idle_can_be_turned_off_in_the_config(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    slept: list[float] = []
    inbox = inboxes(inbox_config(dovecot, idle=False), sleep=slept.append)
    assert inbox.wait(30) is False
    assert slept == [30] and inbox.health.idle is None


@pytest.mark.parametrize("without", [("MOVE",), ("MOVE", "UIDPLUS")], ids=["uid-expunge", "plain-expunge"])
def test_without_move_only_that_message_leaves_and_a_persons_deleted_mark_stays(
    dovecots: Callable[..., Dovecot], inboxes: Callable[..., ImapInbox], without: tuple[str, ...]
) -> None:
    server = dovecots(without=without)
    for n in (1, 2, 3):
        server.deliver(contract_message(n))
    with server.client() as client:  # a person marked another message for deletion by hand
        client.select_folder("INBOX")
        marked = max(client.search("ALL"))
        client.add_flags([marked], [b"\\Deleted"])
    inbox = inboxes(inbox_config(server))
    first, second, _ = list(inbox.pending())
    inbox.move_many([(first.key, Folder.QUARANTINE), (second.key, Folder.PROCESSED)])
    assert server.message_ids("Quarantine") == ["<contract-1@council.example>"]
    assert server.message_ids("Processed") == ["<contract-2@council.example>"]
    assert server.message_ids("INBOX") == ["<contract-3@council.example>"]  # still there, and still marked
    with server.client() as client:
        client.select_folder("INBOX", readonly=True)
        assert client.search(["DELETED"]) == [marked]


def test_a_new_uidvalidity_means_reading_the_folder_again(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    for n in (1, 2):
        dovecot.deliver(contract_message(n))
    inbox = inboxes(inbox_config(dovecot))
    first, second = list(inbox.pending())
    inbox.move(first.key, Folder.PROCESSED)
    dovecot.set_uidvalidity("INBOX", 4242)
    inbox.close()  # a reconnect, as after a server rebuild

    [again] = list(inbox.pending())
    assert again.key.startswith("4242:") and message_id(again.raw) == "<contract-2@council.example>"
    inbox.move(second.key, Folder.PROCESSED)  # listed under the old numbering: not touched
    assert dovecot.message_ids("INBOX") == ["<contract-2@council.example>"]
    inbox.move(again.key, Folder.PROCESSED)
    assert dovecot.message_ids("Processed") == ["<contract-1@council.example>", "<contract-2@council.example>"]


def test_a_server_restart_mid_run_is_survived(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    inbox = inboxes(inbox_config(dovecot))
    assert list(inbox.pending()) == []
    dovecot.stop()
    with pytest.raises(TransientError, match=f"{HOST}:{dovecot.imaps_port}"):
        list(inbox.pending())
    assert inbox.health.connected is False and inbox.health.error
    assert inbox.wait(0.05) is False  # the watcher backs off instead of spinning
    dovecot.start()
    dovecot.deliver(contract_message(1))
    deadline = time.monotonic() + 180  # an overall bound only; the back-off is capped at 0.05 s here
    while True:
        try:
            mails = list(inbox.pending())
            break
        except TransientError:
            assert time.monotonic() < deadline, "the inbox never read the restarted server"
            time.sleep(0.01)
    assert [message_id(m.raw) for m in mails] == ["<contract-1@council.example>"]
    assert inbox.health.connected is True and inbox.health.error is None


def test_starttls_on_the_plain_port(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    dovecot.deliver(contract_message(1))
    inbox = inboxes(inbox_config(dovecot, security="starttls"))
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]


def test_an_untrusted_certificate_is_refused_in_plain_words(
    dovecot: Dovecot, inboxes: Callable[..., ImapInbox], certs: dict[str, Certificate]
) -> None:
    inbox = inboxes(inbox_config(dovecot), ssl_context=trusting(certs["stranger"]))
    with pytest.raises(PermanentError, match="TLS certificate check failed"):
        list(inbox.pending())
    assert inbox.check() == [
        f"IMAP: TLS certificate check failed for {HOST}:{dovecot.imaps_port}: self-signed certificate"
    ]


def test_check_names_a_refused_login_an_unreachable_host_and_a_missing_folder(
    dovecot: Dovecot, inboxes: Callable[..., ImapInbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert inboxes(inbox_config(dovecot)).check() == []
    assert inboxes(replace(inbox_config(dovecot), folder="Referrals")).check() == [
        f"IMAP: the watched folder 'Referrals' does not exist on {HOST}:{dovecot.imaps_port}"
    ]
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    [refused] = inboxes(inbox_config(dovecot)).check()
    assert refused.startswith(f"IMAP: login refused for {IMAP_USER} by {HOST}:{dovecot.imaps_port}")
    dovecot.stop()
    [unreachable] = inboxes(inbox_config(dovecot)).check()
    assert unreachable.startswith(f"IMAP: cannot reach the IMAP server {HOST}:{dovecot.imaps_port}")


def test_a_missing_password_variable_is_named(
    dovecot: Dovecot, inboxes: Callable[..., ImapInbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    assert inboxes(inbox_config(dovecot)).check() == [
        f"IMAP: inbox.imap.password_env: environment variable {PASSWORD_ENV!r} is not set; "
        "expected it to hold the IMAP password"
    ]


def test_xoauth2_login_with_a_token_from_the_environment(
    tmp_path: Path, certs: dict[str, Certificate], store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    introspection = Introspection()
    server = start_dovecot(tmp_path / "oauth", certs["server"], introspection_url=introspection.url)
    try:
        server.deliver(contract_message(1))
        cfg = inbox_config(server, auth="xoauth2", password_env=None, oauth_token_env="TEST_IMAP_TOKEN")
        monkeypatch.setenv("TEST_IMAP_TOKEN", ACCESS_TOKEN)
        inbox = ImapInbox(cfg, store)
        assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]
        inbox.close()
        monkeypatch.setenv("TEST_IMAP_TOKEN", "an-expired-token")
        [refused] = ImapInbox(cfg, store).check()
        assert refused.startswith(f"IMAP: login refused for {IMAP_USER} by {HOST}:{server.imaps_port}")
    finally:
        server.stop()
        introspection.close()


# -- servers that turn the bot away ------------------------------------------------------------


def starttls_then_hang_up(line: bytes) -> tuple[bytes, bool]:
    """An IMAP server that says yes to STARTTLS and then closes instead of shaking hands."""
    tag, command = (line.split() + [b"", b""])[:2]
    if command.upper() == b"CAPABILITY":
        return b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n" + tag + b" OK done\r\n", True
    if command.upper() == b"STARTTLS":
        return tag + b" OK Begin TLS negotiation now\r\n", False
    return tag + b" BAD not here\r\n", True


def test_a_server_that_says_bye_at_once_is_a_transient_error_in_plain_words(
    line_server: Callable[..., LineServer], inboxes: Callable[..., ImapInbox]
) -> None:
    server = line_server(b"* BYE go away\r\n")
    where = f"{HOST}:{server.port}"
    cfg = inbox_config(None, security="starttls", port=server.port, retry_first_seconds=60.0, retry_max_seconds=60.0)
    inbox = inboxes(cfg)
    with pytest.raises(TransientError) as caught:
        list(inbox.pending())
    assert str(caught.value) == f"the IMAP server {where} turned the connection away: go away"
    assert inbox.health.connected is False and inbox.health.error == str(caught.value)
    # Backed off: the next round does not knock again for a minute.
    with pytest.raises(TransientError, match=f"IMAP server {where} unavailable; next try in 60 s"):
        list(inbox.pending())
    assert server.connections == 1
    assert inboxes(cfg).check() == [f"IMAP: the IMAP server {where} turned the connection away: go away"]


def test_a_broken_starttls_handshake_is_a_transient_error_in_plain_words(
    line_server: Callable[..., LineServer], inboxes: Callable[..., ImapInbox], certs: dict[str, Certificate]
) -> None:
    server = line_server(b"* OK ready\r\n", starttls_then_hang_up)
    cfg = inbox_config(None, security="starttls", port=server.port, ca_file=certs["server"].cert)
    expected = (
        f"TLS handshake with {HOST}:{server.port} failed after STARTTLS: "
        "the server closed the connection during the handshake"
    )
    inbox = inboxes(cfg)
    with pytest.raises(TransientError) as caught:
        list(inbox.pending())
    assert str(caught.value) == expected
    assert inbox.health.connected is False and inbox.health.error == expected
    assert inbox.wait(0.05) is False  # the watcher's connection fails the same way, and backs off
    assert inboxes(cfg).check() == [f"IMAP: {expected}"]


def test_check_config_names_a_server_that_turns_the_bot_away(
    tmp_path: Path,
    dovecot: Dovecot,
    line_server: Callable[..., LineServer],
    start_server: Callable[..., SmtpServer],
    password: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    server = line_server(b"* BYE go away\r\n")
    smtp = start_server()
    config = bot_config(tmp_path, dovecot, smtp.port, imap={"port": server.port, "security": "starttls"})
    assert main(["check-config", str(config)]) == 1
    captured = capsys.readouterr()
    assert f"  inbox:    PROBLEM: IMAP: the IMAP server {HOST}:{server.port} turned the connection away: go away\n" in (
        captured.out
    )
    assert "Traceback" not in captured.err and "unexpectedly" not in captured.out


# -- recognised after renumbering ----------------------------------------------------------------


def test_a_request_handled_but_not_moved_is_not_handled_again_under_a_new_uidvalidity(
    dovecot: Dovecot, config: Config, start_server: Callable[..., SmtpServer], password: None
) -> None:
    smtp = start_server()
    wired = replace(
        config,
        inbox=replace(config.inbox, kind="imap", imap=inbox_config(dovecot).imap),
        sender=replace(config.sender, kind="smtp", smtp=SmtpConfig(HOST, smtp.port, "none", None, None, 5.0)),
    )
    now = london("2026-11-23 09:00")
    dovecot.deliver(request_email(now, message_id="<N146782@council.example>"))

    # The daemon's round up to its crash: handled and committed, the confirmation sent, not yet moved.
    first = build(wired)
    try:
        [mail] = list(first.inbox.pending())
        with first.store.batch():
            first.service.handle(mail, now)
        assert first.delivery is not None
        assert first.delivery.deliver_due(now).sent >= 1
    finally:
        first.close()
    assert dovecot.message_ids("INBOX") == ["<N146782@council.example>"]

    dovecot.set_uidvalidity("INBOX", 4242)  # the server was rebuilt while the bot was down
    again = build(wired)
    try:
        Daemon(again, StepClock(now + timedelta(minutes=1))).round()
    finally:
        again.close()

    confirmations = [r for r in smtp.handler.received if b".confirmation." in r.content]
    assert len(confirmations) == 1
    db = sqlite3.connect(config.store.url.removeprefix("sqlite:///"))
    try:
        assert db.execute("SELECT n_numbers FROM cases").fetchall() == [("N146782",)]
    finally:
        db.close()
    assert dovecot.message_ids("INBOX") == []
    assert dovecot.message_ids("Processed") == ["<N146782@council.example>"]


# -- the [inbox.imap] config ---------------------------------------------------------------------


def parsed_imap(tmp_path: Path, **keys: object) -> ImapConfig:
    data = tomllib.loads((REPO / "config.example.toml").read_text(encoding="utf-8"))
    data["inbox"]["kind"] = "imap"
    data["inbox"]["imap"] = {"host": "imap.police.example", "username": IMAP_USER, "password_env": PASSWORD_ENV}
    data["inbox"]["imap"].update(keys)
    imap = parse_config(data, tmp_path, "bot.toml").inbox.imap
    assert imap is not None
    return imap


def test_security_none_is_refused_unless_the_server_is_on_this_machine(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parsed_imap(tmp_path, security="none")
    assert str(caught.value) == (
        "inbox.imap.security: got \"none\" with inbox.imap.host = 'imap.police.example'; "
        'expected "tls" or "starttls", since "none" sends the password and the mail in clear text '
        "and is allowed only for a server on this machine (localhost, 127.0.0.0/8 or ::1)"
    )
    with pytest.raises(ConfigError, match="inbox.imap.security: got \"none\" with inbox.imap.host = '10.0.0.1'"):
        parsed_imap(tmp_path, security="none", host="10.0.0.1")
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        imap = parsed_imap(tmp_path, security="none", host=host)
        assert (imap.host, imap.security, imap.port) == (host, "none", 143)


def test_idle_is_renewed_every_25_minutes_by_default_and_never_at_29_or_later(tmp_path: Path) -> None:
    assert parsed_imap(tmp_path).idle_renew_seconds == 1500
    assert parsed_imap(tmp_path, idle_renew_seconds=1739).idle_renew_seconds == 1739
    with pytest.raises(ConfigError) as caught:
        parsed_imap(tmp_path, idle_renew_seconds=1740)
    assert str(caught.value) == (
        "inbox.imap.idle_renew_seconds: got 1740; expected less than 1740 (29 minutes), since servers may end "
        "an IDLE after 30 minutes and the bot looks about once a second"
    )
