"""`status`, `history`, `metrics`, `health` and `--help` import what they read, not the bot (issue 18).

Each runs in a fresh interpreter, as an administrator runs it, on a database at the newest
schema; afterwards no module of the service, the wiring, Alembic, the board's web server or
the report's charts has been imported. No timing here: what is imported is what costs the time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.support.fresh_python import fresh_python

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "starlette", "uvicorn", "matplotlib", "docx", "jinja2", "bot.wiring", "bot.service", "bot.daemon")

RUN = """
import contextlib, io, json, sys
from bot.cli import main
from tests.support.fresh_python import fresh_python
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[2:])
    except SystemExit as exc:  # --help
        code = exc.code
heavy = [name for name in sys.argv[1].split(",") if name in sys.modules]
print(json.dumps({"code": code, "out": out.getvalue(), "imported": heavy}))
"""


def run(cwd: Path, *args: str) -> dict[str, object]:
    result: dict[str, object] = fresh_python(cwd, RUN, *args)
    return result


@pytest.fixture
def site(tmp_path: Path) -> Path:
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0  # the database at the newest schema
    return config


@pytest.mark.parametrize(
    ("command", "code", "said"),
    [
        (["status"], 0, "Open cases: 0"),
        (["status", "--json"], 0, '"open_cases": {"by_state": [], "count": 0'),
        (["history", "N146782"], 1, ""),  # no such case: said on stderr
        (["metrics"], 0, "strategy_bot_build_info{"),
        (["health"], 2, "ok       database: writable"),  # down: no daemon has run on it
    ],
)
def test_a_read_only_command_imports_neither_the_service_nor_alembic(
    site: Path, command: list[str], code: int, said: str
) -> None:
    result = run(site.parent, ",".join(HEAVY), *command[:1], "--config", str(site), *command[1:])
    assert (result["code"], said in str(result["out"])) == (code, True)
    assert result["imported"] == []


def test_help_imports_none_of_the_commands_dependencies(tmp_path: Path) -> None:
    result = run(tmp_path, ",".join(HEAVY), "--help")
    assert result["code"] == 0
    assert "status" in str(result["out"])
    assert result["imported"] == []
