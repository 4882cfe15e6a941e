"""`status`, `metrics`, `history` and `health` build their own parser alone (``bot.cli.ALONE``):
the same help and the same errors as the whole command line, without importing the other commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import ALONE, COMMANDS, build_parser, main
from tests.support.fresh_python import fresh_python

REPO = Path(__file__).resolve().parents[2]


def _said(capsys: pytest.CaptureFixture[str], modules: tuple[str, ...], words: list[str]) -> tuple[object, str, str]:
    with pytest.raises(SystemExit) as done:
        build_parser(modules).parse_args(words)
    out, err = capsys.readouterr()
    return done.value.code, out, err


@pytest.mark.parametrize("command", sorted(ALONE))
@pytest.mark.parametrize("tail", [["--help"], ["--no-such-option"], ["--config"]])
def test_a_command_built_alone_says_what_the_whole_command_line_says(
    capsys: pytest.CaptureFixture[str], command: str, tail: list[str]
) -> None:
    assert ALONE[command] in COMMANDS
    whole = _said(capsys, COMMANDS, [command, *tail])
    assert _said(capsys, (ALONE[command],), [command, *tail]) == whole
    if tail == ["--help"]:
        assert whole[0] == 0 and str(whole[1]).startswith(f"usage: strategy-bot {command} ")
    else:
        assert whole[0] == 2 and "error:" in str(whole[2])


RUN = """
import contextlib, io, json, sys
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "cli": sorted(m for m in sys.modules if m.startswith("bot.cli."))}))
"""


def test_status_imports_no_other_command(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    assert fresh_python(tmp_path, RUN, "status", "--config", str(config)) == {
        "code": 0,
        "cli": ["bot.cli.common", "bot.cli.store_views"],
    }
