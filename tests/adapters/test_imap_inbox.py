"""The IMAP inbox against a real Dovecot on loopback: IDLE, polling, UIDVALIDITY, restarts, TLS, login."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from dovecot import ACCESS_TOKEN, IMAP_USER, Dovecot, Introspection, start_dovecot
from mail_servers import HOST, PASSWORD, Certificate, trusting
from port_contracts import InboxContract, InboxUnderTest, contract_message, message_id

from bot.adapters.imap_inbox import ImapInbox
from bot.adapters.sql_store import SqlStore
from bot.config import ImapConfig, InboxConfig
from bot.errors import PermanentError, TransientError
from bot.ports import Folder

PASSWORD_ENV = "TEST_STRATEGY_BOT_IMAP_PASSWORD"
FOLDERS = {Folder.PROCESSED: "Processed", Folder.QUARANTINE: "Quarantine", Folder.TRIAGE: "Triage"}


def inbox_config(server: Dovecot, security: str = "tls", max_bytes: int = 4096, **imap: object) -> InboxConfig:
    settings = ImapConfig(
        host=HOST,
        port=server.imaps_port if security == "tls" else server.imap_port,
        security=security,
        username=IMAP_USER,
        auth="password",
        password_env=PASSWORD_ENV,
        oauth_token_env=None,
        ca_file=server.cert.cert,
        timeout_seconds=10.0,
        idle=True,
        idle_renew_seconds=1740.0,
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
def dovecots(tmp_path: Path, certs: dict[str, Certificate]) -> Iterator[Callable[..., Dovecot]]:
    started: list[Dovecot] = []

    def start(without: tuple[str, ...] = ()) -> Dovecot:
        server = start_dovecot(tmp_path / f"dovecot{len(started)}", certs["server"], without)
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
    woken = inbox.wait(60)
    timer.join()
    assert woken is True  # a timeout would have returned False after a minute
    assert inbox.health.idle is True
    assert [message_id(m.raw) for m in inbox.pending()] == ["<contract-1@council.example>"]


def test_idle_is_reissued_before_the_server_would_drop_it(dovecot: Dovecot, inboxes: Callable[..., ImapInbox]) -> None:
    clock = [0.0]
    inbox = inboxes(inbox_config(dovecot, idle_renew_seconds=60.0), monotonic=lambda: clock[0])
    assert inbox.wait(0.1) is False
    started = inbox._watch_since
    clock[0] += 61
    assert inbox.wait(0.1) is False
    assert inbox._watch_since > started  # a fresh IDLE; the connection is the same
    dovecot.deliver(contract_message(1))
    assert inbox.wait(60) is True


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


def test_without_move_it_copies_deletes_and_expunges_that_uid_only(
    dovecots: Callable[..., Dovecot], inboxes: Callable[..., ImapInbox]
) -> None:
    server = dovecots(without=("MOVE",))
    for n in (1, 2):
        server.deliver(contract_message(n))
    with server.client() as client:  # a person flagged another message for deletion by hand
        client.select_folder("INBOX")
        client.add_flags([max(client.search("ALL"))], [b"\\Deleted"])
    inbox = inboxes(inbox_config(server))
    first, _ = list(inbox.pending())
    inbox.move(first.key, Folder.QUARANTINE)
    assert server.message_ids("Quarantine") == ["<contract-1@council.example>"]
    assert server.message_ids("INBOX") == ["<contract-2@council.example>"]  # UID EXPUNGE left it


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
    for _ in range(200):  # back-off is capped at 0.05 s here
        try:
            mails = list(inbox.pending())
            break
        except TransientError:
            continue
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
