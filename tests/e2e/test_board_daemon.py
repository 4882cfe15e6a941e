"""The daemon serves the board when `[board] listen` is set, and stops it with itself (issue 14 item 5)."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from bot.cli import main
from tests.support.daemons import start_piped, stop, wait_for
from tests.support.ports import Ports

REPO = Path(__file__).resolve().parents[2]


def status(url: str) -> int | None:
    """The HTTP status, or None while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except OSError:
        return None


def test_daemon_serves_the_board_and_stops_it_on_sigterm(tmp_path: Path, ports: Ports) -> None:
    port = ports.take()
    config = tmp_path / "bot.toml"
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    config.write_text(example + f'\n[board]\nlisten = "127.0.0.1:{port}"\n', encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    proc = start_piped(config, tmp_path)
    url = f"http://127.0.0.1:{port}/"
    served, page = None, ""
    try:
        served = wait_for(lambda: status(url) or proc.poll() is not None and -1, timeout=180)
        if served == 200:
            page = urllib.request.urlopen(url, timeout=120).read().decode()
    finally:
        err = stop(proc)
    assert served == 200, err  # the daemon's log says why when it did not serve
    assert "Urgent: waiting for police contact" in page and "/static/board.js" in page
    assert proc.returncode == 0, err
    assert status(url) is None  # nothing listens once the daemon has stopped


def test_board_command_serves_until_stopped_and_refuses_to_be_open_without_access(tmp_path: Path, ports: Ports) -> None:
    port = ports.take()
    config = tmp_path / "bot.toml"
    config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["init", "--config", str(config)]) == 0
    command = [sys.executable, "-m", "bot", "board", "--config", str(config)]
    refused = subprocess.run([*command, "--listen", f"0.0.0.0:{port}"], capture_output=True, text=True, timeout=180)
    assert refused.returncode == 2 and "neither board.token_env nor board.trusted_proxy" in refused.stderr
    proc = subprocess.Popen([*command, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/fragment"
    served = None
    try:
        served = wait_for(lambda: status(url) or proc.poll() is not None and -1, timeout=180)
    finally:
        err = stop(proc)
    assert served == 200, err
    assert f"http://127.0.0.1:{port}/" in err
    assert status(url) is None
