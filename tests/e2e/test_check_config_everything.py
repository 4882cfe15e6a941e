"""`check-config` catches everything `run` would fail on, lists every problem, and says network errors in words.

Before: an unset IMAP password variable, an unset sealing key, a mistyped inbox path and a
missing template each passed `check-config --offline` as "configuration is valid" (or stopped
at the first), and a server that was down read "cannot reach ...: 111".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from bot.cli import main
from bot.sealing import new_key
from tests.support.deploy import init
from tests.support.ports import Ports

REPO = Path(__file__).resolve().parents[2]

IMAP = """
[inbox.imap]
host = "imap.police.example"
username = "referrals@police.example"
password_env = "C2_IMAP_PASSWORD"
"""
SMTP = """
[sender.smtp]
host = "smtp.police.example"
username = "referrals@police.example"
password_env = "C2_SMTP_PASSWORD"
"""


def config(folder: Path, text_in: dict[str, str] | None = None, extra: str = "") -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    for old, new in (text_in or {}).items():
        assert old in text
        text = text.replace(old, new, 1)
    path = folder / "bot.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["check-config", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, [line.strip() for line in out.splitlines() if "PROBLEM" in line]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("C2_IMAP_PASSWORD", "C2_SMTP_PASSWORD", "C2_SEALING_KEY", "C2_GRAPH_SECRET", "C2_EWS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_problem_run_would_fail_on_is_listed_not_just_the_first(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "mail_templates", templates)
    (templates / "confirmation.html.j2").unlink()
    path = config(
        tmp_path,
        {
            "[bot]\n": f'templates_dir = "{templates}"\n\n[bot]\n',
            'kind = "maildir"\npath = "strategy-bot-data/sent"': 'kind = "smtp"',
            'path = "strategy-bot-data/bot.sqlite3"': 'path = "strategy-bot-data/bot.sqlite"',  # mistyped
            '# key_env = "STRATEGY_BOT_SEALING_KEY"': 'key_env = "C2_SEALING_KEY"',
        },
        extra=SMTP,
    )
    code, problems = check(capsys, "--offline", str(path))
    assert code == 1
    database = tmp_path / "strategy-bot-data" / "bot.sqlite"
    assert problems == [
        f"PROBLEM: templates_dir: {templates} lacks confirmation.html.j2; expected one .subject.j2, .txt.j2 and "
        ".html.j2 per email",
        "PROBLEM: sender.smtp.password_env: environment variable 'C2_SMTP_PASSWORD' is not set; "
        "expected it to hold the SMTP password",
        "PROBLEM: privacy.key_env: environment variable 'C2_SEALING_KEY' is not set; expected it to hold a key "
        "(`strategy-bot new-key` prints one)",
        f"PROBLEM: store.path: the database {database} does not exist; check the path, or create it with "
        f"`strategy-bot init --config {path}`",
        f"PROBLEM: inbox.path: the Maildir inbox {tmp_path / 'strategy-bot-data' / 'inbox'} does not exist; "
        f"check the path, or create it with `strategy-bot init --config {path}`",
        f"PROBLEM: calendar.ics_path: the calendar feed's folder {tmp_path / 'strategy-bot-data'} does not exist; "
        f"check the path, or create it with `strategy-bot init --config {path}`",
    ]

    # Each mended in turn: the list shrinks to nothing, and the file is then valid.
    clean_env.setenv("C2_SMTP_PASSWORD", "secret")
    clean_env.setenv("C2_SEALING_KEY", "not a key")
    code, problems = check(capsys, "--offline", str(path))
    assert "PROBLEM: privacy.key_env: environment variable 'C2_SEALING_KEY' does not hold a valid key; " in problems[1]
    clean_env.setenv("C2_SEALING_KEY", new_key())
    shutil.copy(REPO / "mail_templates" / "confirmation.html.j2", templates)
    init(path)
    code, problems = check(capsys, "--offline", str(path))
    assert (code, problems) == (0, [])


def test_an_unset_imap_password_is_a_problem_before_any_connection(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init(
        config(
            tmp_path,
            {'kind = "maildir"\npath = "strategy-bot-data/inbox"': 'kind = "imap"'},
            extra=IMAP,
        )
    )
    code, problems = check(capsys, str(path))
    assert code == 1
    assert problems == [
        "PROBLEM: inbox.imap.password_env: environment variable 'C2_IMAP_PASSWORD' is not set; "
        "expected it to hold the IMAP password"
    ]
    assert "inbox:    not checked (see above)" in main_out(capsys, str(path))


def main_out(capsys: pytest.CaptureFixture[str], path: str) -> str:
    main(["check-config", path])
    return capsys.readouterr().out


def test_a_data_folder_that_is_not_a_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = init(config(tmp_path))
    sent = tmp_path / "strategy-bot-data" / "sent"
    shutil.rmtree(sent)
    sent.write_text("a file where the folder should be", encoding="utf-8")
    code, problems = check(capsys, "--offline", str(path))
    assert code == 1
    assert problems == [f"PROBLEM: sender.path: the Maildir for sent mail {sent} is not a folder"]


def test_graph_and_exchange_that_refuse_the_connection_are_said_in_words(
    tmp_path: Path, ports: Ports, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = ports.take()  # held by the allocator, listened on by nothing: a connection is refused
    assert ports.refuses(port)
    clean_env.setenv("C2_GRAPH_SECRET", "secret")
    graph = f"""
[graph]
tenant_id = "00000000-0000-0000-0000-000000000001"
client_id = "00000000-0000-0000-0000-000000000002"
client_secret_env = "C2_GRAPH_SECRET"
authority = "https://127.0.0.1:{port}"
timeout_seconds = 5
"""
    path = init(config(tmp_path, {'kind = "local"\n': 'kind = "graph"\n'}, extra=graph))
    code = main(["check-config", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"Entra ID at https://127.0.0.1:{port} did not answer: connection refused\n" in out
    assert "Errno" not in out and "NewConnectionError" not in out

    clean_env.setenv("C2_EWS_PASSWORD", "secret")
    ews = f"""
[ews]
endpoint = "https://127.0.0.1:{port}/EWS/Exchange.asmx"
username = "svc"
password_env = "C2_EWS_PASSWORD"
timeout_seconds = 5
"""
    path = config(tmp_path, {'kind = "local"\n': 'kind = "ews"\n'}, extra=ews)
    code = main(["check-config", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("  calendar: PROBLEM")]
    assert line.endswith(": connection refused"), line
    assert "Errno" not in out and "Traceback" not in out


@pytest.mark.parametrize(("revision", "said"), [("0001", "older than"), ("9999", "newer than")])
def test_a_database_run_would_refuse_for_its_schema_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], revision: str, said: str
) -> None:
    path = init(config(tmp_path))
    database = tmp_path / "strategy-bot-data" / "bot.sqlite3"
    db = sqlite3.connect(database)
    db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    db.commit()
    db.close()
    code, problems = check(capsys, "--offline", str(path))
    assert code == 1
    [problem] = problems
    assert problem.startswith(f"PROBLEM: database: schema at revision {revision}, {said} this strategy-bot")
    db = sqlite3.connect(database)
    assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(revision,)]  # nothing written
    db.close()


def as_nobody(command: list[str]) -> tuple[int, str]:
    """``main(command)`` in a forked child that has become ``nobody``: the modules it needs are loaded already."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            sys.stdout = sys.stderr = os.fdopen(write, "w")
            os.setgid(65534)
            os.setuid(65534)
            code = main(command)
            sys.stdout.flush()
        finally:
            os._exit(locals().get("code", 99))
    os.close(write)

    # A child that hangs is killed after an overall bound, which also ends the read below (EOF).
    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    killer = threading.Timer(180, kill)
    killer.start()
    try:
        with os.fdopen(read) as said:
            out = said.read()
        _, status = os.waitpid(pid, 0)
    finally:
        killer.cancel()
    code = os.waitstatus_to_exitcode(status)
    assert code != -signal.SIGKILL, f"the check as nobody did not end:\n{out}"
    return code, out


@pytest.mark.skipif(os.geteuid() != 0, reason="running the check as another user needs root")
def test_folders_the_bots_user_may_not_write_are_permission_denied_naming_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = Path(tempfile.mkdtemp(dir="/tmp"))  # others may look in, unlike tmp_path's root-only parents
    try:
        folder.chmod(0o755)
        path = init(config(folder))
        path.chmod(0o644)
        data = folder / "strategy-bot-data"
        data.chmod(0o755)  # root's; nobody may read it but not write
        (data / "bot.sqlite3").chmod(0o644)
        assert main(["check-config", "--offline", str(path)]) == 0  # as root; every module it needs is loaded
        capsys.readouterr()
        code, out = as_nobody(["check-config", "--offline", str(path)])
    finally:
        shutil.rmtree(folder)
    assert code == 1 and "Traceback" not in out
    problems = [line.strip() for line in out.splitlines() if "PROBLEM" in line]
    for expected in (
        f"PROBLEM: store.path: permission denied on {data / 'bot.sqlite3'} (the bot writes the file and its folder)",
        f"PROBLEM: inbox.path: permission denied on {data / 'inbox'}",
        f"PROBLEM: sender.path: permission denied on {data / 'sent'}",
        f"PROBLEM: calendar.ics_path: permission denied on {data}",
    ):
        assert expected in problems, out


def test_a_postgresql_database_is_reached_or_named_without_its_password(
    tmp_path: Path, ports: Ports, postgres_url: str, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init(config(tmp_path, {"[store]\n": '[store]\nkind = "postgresql"\n'}))
    clean_env.setenv("STRATEGY_BOT_DATABASE_URL", postgres_url)  # store.url_env's default
    code = main(["check-config", str(path)])
    out = capsys.readouterr().out
    assert (code, "  store:    ok\n" in out) == (0, True), out

    secret = "Sw0rdfish-not-to-be-shown"
    port = ports.take()  # nothing listens there
    clean_env.setenv("STRATEGY_BOT_DATABASE_URL", f"postgresql+psycopg://bot:{secret}@127.0.0.1:{port}/bot")
    code = main(["check-config", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and secret not in out + err and "Traceback" not in out + err
    assert (
        f"  store:    PROBLEM: cannot reach the database postgresql+psycopg://bot:***@127.0.0.1:{port}/bot: "
        "connection refused\n"
    ) in out
