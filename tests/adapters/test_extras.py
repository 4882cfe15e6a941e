"""Optional extras (issue 16, item 7): msal, requests and exchangelib only for a Graph or EWS set-up.

``pip install strategy-bot`` brings none of them; ``[graph]`` brings msal and requests,
``[ews]`` exchangelib. The embedded default, Maildir, IMAP and SMTP must work without them,
and a config naming Graph or EWS without its extra gets one line naming the pip command.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
from bot.wiring import check_kinds
from tests.support.deploy import init

REPO = Path(__file__).resolve().parents[2]
OPTIONAL = ("msal", "requests", "exchangelib", "psycopg")

# Run in a fresh interpreter in which the optional libraries cannot be imported, as after
# `pip install strategy-bot` alone.
WITHOUT_EXTRAS = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {optional!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    import bot
    from bot.cli import main

    for found in pkgutil.walk_packages(bot.__path__, "bot."):
        if not found.name.startswith(("bot.adapters.graph", "bot.adapters.ews")):
            importlib.import_module(found.name)
    code = main(sys.argv[1:])
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in {optional!r})
    print("LEAKED", leaked)
    sys.exit(code)
    """
).format(optional=OPTIONAL)


def without_extras(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, *args],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "IMAP_PW": "x"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def example_with(tmp_path: Path, inbox: str, extra: str = "") -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "maildir"\npath = "strategy-bot-data/inbox"', f'kind = "{inbox}"')
    path = tmp_path / f"{inbox}.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


IMAP = """
[inbox.imap]
host = "imap.police.example"
username = "referrals@police.example"
password_env = "IMAP_PW"
"""
GRAPH = """
[graph]
tenant_id = "t"
client_id = "c"
client_secret_env = "GRAPH_SECRET"
"""
EWS = """
[ews]
endpoint = "https://mail.police.example/EWS/Exchange.asmx"
username = "svc"
password_env = "EWS_PASSWORD"
"""


def test_the_base_install_names_none_of_them_and_the_extras_bring_them() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = " ".join(project["dependencies"])
    assert not any(name in base for name in OPTIONAL)
    extras = project["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["graph"]] == ["msal", "requests"]
    assert [d.split(">")[0] for d in extras["ews"]] == ["exchangelib", "requests"]
    assert [d.split(">")[0] for d in extras["postgresql"]] == ["psycopg[binary]"]
    # The README's test line installs every extra: their adapters are tested against real servers or fakes.
    assert "strategy-bot[graph,ews,postgresql]" in extras["test"]


def test_the_embedded_default_demo_runs_without_the_extras(tmp_path: Path) -> None:
    done = without_extras(tmp_path, "demo", "--out", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stdout
    assert (tmp_path / "demo" / "strategy-calendar.ics").is_file()


def test_an_imap_site_checks_its_config_without_the_extras(tmp_path: Path) -> None:
    config = init(example_with(tmp_path, "imap", IMAP))  # the folders and database check-config requires
    done = without_extras(tmp_path, "check-config", "--offline", str(config))
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stdout and "imap referrals@police.example" in done.stdout


@pytest.mark.parametrize(("kind", "section"), [("graph", GRAPH), ("ews", EWS)])
def test_graph_or_ews_without_its_extra_is_one_line_naming_the_pip_command(
    tmp_path: Path, kind: str, section: str
) -> None:
    done = without_extras(tmp_path, "check-config", "--offline", str(example_with(tmp_path, kind, section)))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f'strategy-bot: configuration error: inbox.kind: got "{kind}", but the {kind} extra')
    assert line.endswith(f"install it with: pip install 'strategy-bot[{kind}]'")


def test_the_daemon_names_the_missing_extra_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(example_with(tmp_path, "ews", EWS))
    monkeypatch.setitem(sys.modules, "exchangelib", None)  # import exchangelib now fails
    with pytest.raises(ConfigError, match=r"pip install 'strategy-bot\[ews\]'"):
        check_kinds(config)
    monkeypatch.setenv("EWS_PASSWORD", "x")
    assert main(["run", "--config", str(example_with(tmp_path, "ews", EWS))]) == 2
