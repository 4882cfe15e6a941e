"""`--version`, and `--config` for every command with `check-config FILE` kept as an alias (issue 17 item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def test_version_is_printed_by_the_top_level_parser() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert done.returncode == 0 and done.stdout == f"strategy-bot {__version__}\n"


def test_check_config_takes_the_file_positionally_or_as_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(path)]) == 0
    capsys.readouterr()
    assert main(["check-config", "--offline", str(path)]) == 0
    positional = capsys.readouterr().out
    assert main(["check-config", "--offline", "--config", str(path)]) == 0
    assert capsys.readouterr().out == positional
    assert "configuration is valid" in positional.splitlines()[0]


def test_every_command_but_new_key_takes_config() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    without = []
    for name, command in commands.items():
        leaves = [command]
        subs = [a for a in command._actions if a.__class__.__name__ == "_SubParsersAction"]
        if subs:
            leaves = list(subs[0].choices.values())
        if any("--config" not in leaf._option_string_actions for leaf in leaves):
            without.append(name)
    assert without == ["new-key"]
