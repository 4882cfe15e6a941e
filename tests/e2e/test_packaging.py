"""What an IT team installs: the systemd unit, the container image's recipe and the constraints file.

The unit is checked by systemd itself (`systemd-analyze verify`, with the installed
`strategy-bot` standing in for /opt/strategy-bot/venv/bin/strategy-bot) and read for the
directives that matter; the Containerfile and the config both ship with are read and loaded;
constraints.txt pins every run-time requirement within what pyproject.toml allows.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.config import load_config

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "strategy-bot.service"
INSTALLED_AT = "/opt/strategy-bot/venv/bin/strategy-bot"
STATE = "/var/lib/strategy-bot"
CONFIG = "/etc/strategy-bot/bot.toml"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def entry_point() -> str:
    beside = Path(sys.executable).parent / "strategy-bot"
    found = str(beside) if beside.exists() else shutil.which("strategy-bot")
    assert found, "strategy-bot is not installed (pip install -e .)"
    return found


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian's systemd package)")
def test_systemd_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_AT in text
    copy = tmp_path / "strategy-bot.service"
    copy.write_text(text.replace(INSTALLED_AT, entry_point()), encoding="utf-8")
    verified = subprocess.run([SYSTEMD_ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=180)
    # verify exits 0 on an unknown or misspelt key too, and says so on stderr: both must be clean.
    assert (verified.returncode, verified.stderr) == (0, "")
    security = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", str(copy)], capture_output=True, text=True, timeout=180
    )
    exposure = re.search(r"Overall exposure level for strategy-bot\.service: ([\d.]+)", security.stdout)
    assert exposure, security.stdout + security.stderr
    assert float(exposure.group(1)) < 3.0  # systemd's own 0-10 scale; 1.7 when written


def test_the_unit_runs_the_daemon_as_its_own_user_confined_to_its_state_folder() -> None:
    service = unit()["Service"]
    assert service["User"] == service["Group"] == "strategy-bot"
    assert service["ExecStart"] == f"{INSTALLED_AT} run --config {CONFIG}"
    assert service["ExecStartPre"] == f"{INSTALLED_AT} check-config {CONFIG} --offline"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["EnvironmentFile"] == "/etc/strategy-bot/secrets.env"
    assert (service["StateDirectory"], service["StateDirectoryMode"]) == ("strategy-bot", "0700")
    assert service["WorkingDirectory"] == STATE
    assert service["UMask"] == "0077"
    assert (service["Restart"], service["RestartPreventExitStatus"]) == ("on-failure", "2")
    assert (service["KillMode"], service["KillSignal"]) == ("control-group", "SIGTERM")
    assert service["TimeoutStopSec"] == "30s"
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    assert STATE in service["ReadWritePaths"].split()


def test_the_shipped_config_keeps_everything_in_the_state_folder_and_logs_json() -> None:
    config = load_config(REPO / "deploy" / "strategy-bot.toml")
    paths = [
        Path(config.store.url.removeprefix("sqlite:///")),
        config.inbox.path,
        config.sender.path,
        config.calendar.ics_path,
    ]
    assert all(path is not None and str(path).startswith(STATE + "/") for path in paths), paths
    assert config.logging.format == "json"
    assert config.privacy.key_env == "STRATEGY_BOT_SEALING_KEY"
    secrets = UNIT.read_text(encoding="utf-8")
    assert config.inbox.imap is not None and config.sender.smtp is not None
    for variable in (config.inbox.imap.password_env, config.sender.smtp.password_env, config.privacy.key_env):
        assert f"#   {variable}=" in secrets  # the unit's comment lists every secret the config names


def instructions(text: str) -> list[tuple[str, str]]:
    """The Containerfile's instructions, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_container_runs_as_a_user_with_a_data_volume_and_a_health_check() -> None:
    steps = instructions((REPO / "Containerfile").read_text(encoding="utf-8"))
    words = [word for word, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in steps if word == "USER"]
    assert users == ["strategy-bot"]
    assert words.index("USER") < words.index("CMD")
    assert ("VOLUME", STATE) in steps
    [health] = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert re.search(rf"CMD strategy-bot health --config {CONFIG} > /dev/null; test \$\? -lt 2$", health)
    assert ("CMD", f'["strategy-bot", "run", "--config", "{CONFIG}"]') in steps
    assert ("COPY", f"deploy/strategy-bot.toml {CONFIG}") in steps
    assert any(word == "RUN" and "pip install -c constraints.txt" in rest for word, rest in steps)
    for word, rest in steps:
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (REPO / source).exists(), source


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in ("graph", "ews", "postgresql"):
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def test_constraints_pin_every_runtime_requirement_within_pyproject_and_no_test_tool() -> None:
    text = (REPO / "constraints.txt").read_text(encoding="utf-8")
    assert "python deploy/lock.py > constraints.txt" in text  # how to make it again
    pins = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for requirement in runtime_requirements():
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not pinned"
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    assert not {"pytest", "ruff", "mypy", "selenium", "hypothesis", "strategy-bot"} & set(pins)
