"""Least privilege proven (issue 16, item 5): tenant-wide grants, an out-of-scope mailbox, the key file's mode.

The fake Entra ID issues JWTs whose ``roles`` claim is ``FakeGraph.roles``: empty, as with
RBAC for Applications (those grants never appear in the token), or the application
permissions a tenant-wide admin consent in Entra ID would put there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from bot.adapters.graph_client import GraphClient
from bot.adapters.graph_privilege import (
    LeastPrivilegeError,
    least_privilege_problems,
    require_least_privilege,
    tenant_wide,
    token_roles,
)
from bot.cli import main
from bot.config import ConfigError, GraphConfig, load_config
from bot.errors import PermanentError
from bot.wiring import build
from tests.adapters.test_graph import graph_config as graph_test_config
from tests.support.deploy import init
from tests.support.fake_graph import AUTHORITY, CLIENT_ID, ENDPOINT, SECRET, TENANT, FakeGraph, jwt

REPO = Path(__file__).resolve().parents[2]
MAILBOX = "referrals@police.example"
CALENDAR_MAILBOX = "strategy.calendar@police.example"
ELSEWHERE = "chief.executive@police.example"
SECRET_ENV = "TEST_PRIVILEGE_GRAPH_SECRET"


def graph_config(**changes: object) -> GraphConfig:
    """test_graph's configuration, with this file's secret variable and no waiting on throttling."""
    return graph_test_config(**{"client_secret_env": SECRET_ENV, "max_wait_seconds": 0.0, **changes})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        graph = FakeGraph(rs)
        graph.mailbox(MAILBOX)
        graph.add_calendar(CALENDAR_MAILBOX, "Strategy Meeting")
        # A mailbox outside the RBAC scope: Exchange Online refuses the app there.
        graph.mailbox(ELSEWHERE)
        graph.deny(ELSEWHERE, "Mail.ReadWrite")
        graph.deny(ELSEWHERE, "Calendars.ReadWrite")
        yield graph


GRAPH_SECTION = f"""
[graph]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
client_secret_env = "{SECRET_ENV}"
mailbox = "{MAILBOX}"
calendar_mailbox = "{CALENDAR_MAILBOX}"
authority = "{AUTHORITY}"
endpoint = "{ENDPOINT}"
"""


def config_file(folder: Path, extra: str = "", kinds: tuple[str, str, str] = ("graph",) * 3) -> Path:
    """The example config with the inbox, sender and calendar on Graph (or as ``kinds`` says)."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    inbox, sender, calendar = kinds
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/inbox"', f'kind = "{inbox}"')
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/sent"', f'kind = "{sender}"')
    text = text.replace('kind = "local"\n', f'kind = "{calendar}"\n', 1)
    path = folder / "bot.toml"
    path.write_text(text + GRAPH_SECTION + extra, encoding="utf-8")
    return path


# -- the token's roles ----------------------------------------------------------------------------


def test_the_roles_claim_is_read_from_the_token_without_verifying_it() -> None:
    assert token_roles(jwt({"roles": ["Mail.ReadWrite", "User.Read.All"]})) == ("Mail.ReadWrite", "User.Read.All")
    assert token_roles(jwt({"aud": "https://graph.microsoft.com"})) == ()


def test_a_token_that_is_not_a_jwt_cannot_be_proven_and_is_refused() -> None:
    with pytest.raises(PermanentError, match="not a JWT"):
        token_roles("opaque-token")


@pytest.mark.parametrize(
    ("roles", "wide"),
    [
        ([], ()),
        (["User.Read.All", "MailboxSettings.Read", "Sites.Selected"], ()),
        (["Mail.Send", "User.Read.All"], ("Mail.Send",)),
        (["Calendars.ReadWrite", "Mail.ReadWrite", "Mail.ReadBasic.All"], ("Calendars.ReadWrite",
                                                                          "Mail.ReadBasic.All", "Mail.ReadWrite")),
    ],
)  # fmt: skip
def test_only_mail_and_calendars_permissions_count_as_tenant_wide(roles: list[str], wide: tuple[str, ...]) -> None:
    assert tenant_wide(tuple(roles)) == wide


def test_a_tenant_wide_grant_stops_the_client_before_any_graph_call(fake: FakeGraph) -> None:
    fake.roles = ["Mail.ReadWrite", "User.Read.All"]
    client = GraphClient(graph_config())
    with pytest.raises(PermanentError) as caught:
        client.request("GET", f"/users/{MAILBOX}/mailFolders/inbox", need="Mail.ReadWrite", mailbox=MAILBOX, what="x")
    words = str(caught.value)
    assert "tenant-wide" in words and "Mail.ReadWrite" in words and "User.Read.All" not in words
    assert "Entra" in words and "revoke admin consent" in words and "RBAC for Applications" in words
    assert fake.requests == []  # Graph itself was never called with that token


def test_a_token_granted_only_through_rbac_passes(fake: FakeGraph) -> None:
    assert least_privilege_problems(GraphClient(graph_config())) == []
    require_least_privilege(GraphClient(graph_config()))


# -- the out-of-scope mailbox ----------------------------------------------------------------------


def test_a_mailbox_outside_the_scope_refused_with_403_is_proof(fake: FakeGraph) -> None:
    assert least_privilege_problems(GraphClient(graph_config(out_of_scope_mailbox=ELSEWHERE))) == []
    tried = [r.path for r in fake.calls("GET", ELSEWHERE)]
    assert tried == [f"/users/{ELSEWHERE}/mailFolders/inbox", f"/users/{ELSEWHERE}/calendars"]
    assert all(r.status == 403 for r in fake.calls("GET", ELSEWHERE))


@pytest.mark.parametrize(("allowed", "what"), [("Mail.ReadWrite", "reading its Inbox"),
                                               ("Calendars.ReadWrite", "listing its calendars")])  # fmt: skip
def test_a_readable_out_of_scope_mailbox_refuses_start_up(fake: FakeGraph, allowed: str, what: str) -> None:
    fake.denied.discard((ELSEWHERE, allowed))
    with pytest.raises(LeastPrivilegeError) as caught:
        require_least_privilege(GraphClient(graph_config(out_of_scope_mailbox=ELSEWHERE)))
    words = str(caught.value)
    assert f"could read {ELSEWHERE} ({what}" in words and "Test-ServicePrincipalAuthorization" in words


def test_an_out_of_scope_mailbox_that_does_not_exist_proves_nothing(fake: FakeGraph) -> None:
    [problem] = least_privilege_problems(GraphClient(graph_config(out_of_scope_mailbox="nobody@police.example")))
    assert problem.startswith("graph.out_of_scope_mailbox: nobody@police.example could not be tried")


def test_the_key_is_read_from_the_file(tmp_path: Path) -> None:
    text = config_file(tmp_path, extra=f'out_of_scope_mailbox = "{ELSEWHERE.upper()}"\n')
    config = load_config(text)
    assert config.graph is not None and config.graph.out_of_scope_mailbox == ELSEWHERE
    assert load_config(config_file(tmp_path)).graph.out_of_scope_mailbox is None  # type: ignore[union-attr]


def test_the_out_of_scope_mailbox_may_not_be_one_the_bot_uses(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="graph.out_of_scope_mailbox: got 'referrals@police.example'"):
        load_config(config_file(tmp_path, extra=f'out_of_scope_mailbox = "{MAILBOX}"\n'))


# -- check-config and start-up --------------------------------------------------------------------


def test_check_config_refuses_a_tenant_wide_grant(
    fake: FakeGraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.roles = ["Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send"]
    assert main(["check-config", str(init(config_file(tmp_path)))]) == 1
    out = capsys.readouterr().out
    assert "Calendars.ReadWrite, Mail.ReadWrite, Mail.Send" in out and "RBAC for Applications" in out
    assert out.count("PROBLEM") == 3  # each role: inbox, sender, calendar
    assert "  scope:    not proven: see the problem above" in out
    assert not fake.requests  # no mailbox was touched with a tenant-wide token


def test_check_config_shows_what_was_proven(
    fake: FakeGraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init(config_file(tmp_path, extra=f'out_of_scope_mailbox = "{ELSEWHERE}"\n'))
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"  scope:    ok: no tenant-wide Mail or Calendars permission in the app's token; {ELSEWHERE}" in out

    fake.denied.clear()  # the scope no longer holds
    assert main(["check-config", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"  scope:    PROBLEM: graph.out_of_scope_mailbox: the app could read {ELSEWHERE}" in out


def test_check_config_says_when_no_mailbox_outside_the_scope_was_tried(
    fake: FakeGraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(init(config_file(tmp_path, kinds=("maildir", "maildir", "graph"))))]) == 0
    assert "graph.out_of_scope_mailbox is not set" in capsys.readouterr().out


def test_the_daemon_refuses_to_start_on_a_tenant_wide_grant(fake: FakeGraph, tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path))
    fake.roles = ["Mail.ReadWrite"]
    with pytest.raises(LeastPrivilegeError, match="tenant-wide application permission Mail.ReadWrite"):
        build(config)
    assert not (tmp_path / "strategy-bot-data" / "bot.sqlite3").exists()  # refused before anything was opened


def test_the_daemon_refuses_to_start_when_the_out_of_scope_mailbox_is_readable(
    fake: FakeGraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.denied.clear()
    path = init(config_file(tmp_path, extra=f'out_of_scope_mailbox = "{ELSEWHERE}"\n'))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("strategy-bot: configuration error: graph.out_of_scope_mailbox: the app could read")


def test_status_reads_the_database_without_asking_graph(fake: FakeGraph, tmp_path: Path) -> None:
    fake.roles = ["Mail.ReadWrite"]
    bot = build(load_config(config_file(tmp_path)), with_mail=False)
    bot.close()
    assert fake.token_requests == []


# -- the certificate's private key ------------------------------------------------------------------


def certificate_config(tmp_path: Path, mode: int) -> Path:
    pem = tmp_path / "graph app.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n", encoding="ascii")
    pem.chmod(mode)
    path = config_file(tmp_path)
    text = path.read_text(encoding="utf-8").replace(
        f'client_secret_env = "{SECRET_ENV}"',
        f'certificate_path = "{pem}"\ncertificate_thumbprint = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"',
    )
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_private_key_open_to_group_or_others_is_refused_naming_the_file_and_chmod(tmp_path: Path, mode: int) -> None:
    path = certificate_config(tmp_path, mode)
    pem = tmp_path / "graph app.pem"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"graph.certificate_path: {str(pem)!r} holds a private key and is open to group or others "
        f"(mode {mode:04o}); expected it readable by the bot's user only: chmod 600 '{pem}'"
    )


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_check_config_offline_refuses_the_open_key_and_accepts_it_after_chmod_600(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = certificate_config(tmp_path, 0o644)
    assert main(["check-config", "--offline", str(path)]) == 2
    (tmp_path / "graph app.pem").chmod(0o600)
    init(path)
    (tmp_path / "graph app.pem").chmod(0o644)
    assert main(["check-config", "--offline", str(path)]) == 2
    assert re.search(r"configuration error: graph.certificate_path: .* chmod 600", capsys.readouterr().err)
    (tmp_path / "graph app.pem").chmod(0o600)
    assert main(["check-config", "--offline", str(path)]) == 0
    (tmp_path / "graph app.pem").chmod(0o400)
    assert main(["check-config", "--offline", str(path)]) == 0
