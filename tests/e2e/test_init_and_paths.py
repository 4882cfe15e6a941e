"""Nothing silent about paths: `init` alone creates what a config names; `run` and the views refuse what is missing.

A mistyped `inbox.path` or `store.path` used to become a new, empty folder or database:
the daemon idled for ever on a Maildir nobody delivers to, and `status` said "Open cases: 0".
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]


def example(tmp_path: Path, **replace: str) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_folders_and_the_database_for_the_bot_alone_and_says_what(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example(tmp_path)
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"created the database {data / 'bot.sqlite3'} (mode 0600, schema version" in out
    assert f"created the Maildir inbox {data / 'inbox'} with .Processed, .Quarantine, .Triage (mode 0700)" in out
    assert f"created the Maildir for sent mail {data / 'sent'} (mode 0700)" in out
    assert f"next: strategy-bot check-config {config}, then strategy-bot run --config {config}" in out
    assert mode(data) == 0o700 and mode(data / "inbox") == 0o700 and mode(data / "sent") == 0o700
    assert mode(data / "bot.sqlite3") == 0o600
    for sub in ("new", "cur", "tmp", ".Processed/new", ".Quarantine/cur", ".Triage/tmp"):
        assert (data / "inbox" / sub).is_dir()

    # A second time it changes nothing and says so; the new database passes `status`.
    assert main(["init", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "created" not in out
    assert f"already there: the database {data / 'bot.sqlite3'}" in out
    assert main(["status", "--config", str(config)]) == 0
    assert "Open cases: 0" in capsys.readouterr().out


MISTYPED = {
    "inbox": ("inbox.path", "strategy-bot-data/inbox", "strategy-bot-data/inbx"),
    "store": ("store.path", "strategy-bot-data/bot.sqlite3", "strategy-bot-data/bot.sqlite"),
}


@pytest.mark.parametrize("which", MISTYPED)
def test_run_on_a_mistyped_path_refuses_in_one_line_and_creates_nothing(tmp_path: Path, which: str) -> None:
    key, right, wrong_path = MISTYPED[which]
    assert main(["init", "--config", str(example(tmp_path))]) == 0
    config = example(tmp_path, **{f'path = "{right}"': f'path = "{wrong_path}"'})
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "cannot start" in line]
    wrong = tmp_path / wrong_path
    assert f"{key}: " in line and f"{wrong} does not exist" in line
    assert f"`strategy-bot init --config {config}`" in line
    assert not wrong.exists()


@pytest.mark.parametrize("command", [["status"], ["metrics"], ["history", "N146782"]])
def test_the_views_refuse_a_database_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    config = example(tmp_path)
    assert main([*command, "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    database = tmp_path / "strategy-bot-data" / "bot.sqlite3"
    assert out == ""
    assert err == (
        f"strategy-bot {command[0]}: the database {database} does not exist; check store.path, "
        f"or create it with `strategy-bot init --config {config}`\n"
    )
    assert not database.exists() and not database.parent.exists()


def test_demo_into_a_folder_it_cannot_make_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert main(["demo", "--out", str(blocker / "demo")]) == 1
    out, err = capsys.readouterr()
    assert err == f"strategy-bot demo: not a directory on {blocker / 'demo'}\n"  # was a 27-line traceback
