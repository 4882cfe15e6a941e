"""`strategy-bot run` stopped the way systemd stops it: a signal to its whole process group.

The time-limited reader's worker processes share the daemon's process group, so they get the
signal too. The daemon must still end promptly with exit code 0, print no traceback (its own
or a worker's), and leave no process of its group behind.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from tests.service.test_privacy_and_hostile_mail import PERSONAL
from tests.support.daemons import start_piped, wait_for
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]
# Only so that a broken shutdown fails the test instead of hanging the suite.
GIVE_UP_SECONDS = 180.0  # an overall bound only: a busy machine may be slow


def live_members(group: int) -> list[int]:
    """The processes of a process group that have not ended (zombies left to init do not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        # The command name is in parentheses and may hold spaces: the fields follow its last ")".
        state, _parent, pgrp = text.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            found.append(int(stat.parent.name))
    return found


def config_with_reader(tmp_path: Path) -> Path:
    """The shipped example, with the reader's time limit set so that messages are read in a worker."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^parse_seconds\s*=.*\n", "", text)
    text = text.replace("[inbox]\n", "[inbox]\nparse_seconds = 5\n", 1)
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_process_group_ends_the_daemon_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    config = config_with_reader(tmp_path)
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0  # `run` creates no folder itself
    inbox = mailbox.Maildir(data / "inbox", create=False)
    proc = start_piped(config, tmp_path, new_session=True)  # its own process group, as systemd gives it
    group = proc.pid
    try:
        inbox.add(request_email(datetime.now(UTC), message_id="<shutdown-1@council.example>"))
        # Handled, so the reader has read it in its worker and the worker is idle in the group.
        processed = data / "inbox" / ".Processed"
        wait_for(lambda: processed.exists() and list(mailbox.Maildir(processed, create=False).iterkeys()), "Processed")
        assert len(live_members(group)) > 1, "the reader's worker should be running in the daemon's group"

        os.killpg(group, signum)
        out, err = proc.communicate(timeout=GIVE_UP_SECONDS)
    finally:
        if proc.poll() is None:
            os.killpg(group, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "strategy-bot stopped" in err
    wait_for(lambda: not live_members(group), "the daemon's workers to end")


def test_under_setsid_the_json_log_of_a_run_parses_leaks_nothing_and_ends_with_the_stop(tmp_path: Path) -> None:
    """`setsid` as the supervisor: the daemon leads its own group; SIGTERM to the group; exit 0.

    The log is `[logging] format = "json"`: every line one object with an ISO time and its
    offset, no library chatter, no personal data from the example requests, and the last line
    the daemon's own "strategy-bot stopped".
    """
    config = config_with_reader(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + '\n[logging]\nformat = "json"\n', encoding="utf-8")
    data = tmp_path / "strategy-bot-data"
    assert main(["init", "--config", str(config)]) == 0
    examples = sorted((REPO / "examples").glob("*.eml"))
    setsid = shutil.which("setsid")
    assert setsid, "setsid (util-linux) is missing"
    proc = subprocess.Popen(
        [setsid, sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    group = proc.pid
    try:
        # setsid made the daemon the leader of a process group of its own.
        wait_for(lambda: os.getpgid(proc.pid) == proc.pid, "the daemon to lead its own group")
        inbox = mailbox.Maildir(data / "inbox", create=False)
        for path in examples:
            inbox.add(path.read_bytes())

        def handled() -> int:
            folders = [data / "inbox" / f".{name}" for name in ("Processed", "Triage", "Quarantine")]
            return sum(len(list(mailbox.Maildir(f, create=False).iterkeys())) for f in folders if f.exists())

        wait_for(lambda: handled() == len(examples), "every example handled")
        os.killpg(group, signal.SIGTERM)
        _, err = proc.communicate(timeout=GIVE_UP_SECONDS)
    finally:
        if proc.poll() is None:
            os.killpg(group, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    assert records[-1]["message"] == "strategy-bot stopped" and records[-1]["logger"] == "bot.daemon"
    assert all(datetime.fromisoformat(r["time"]).utcoffset() is not None for r in records)
    assert any(r["message"].startswith("message handled") for r in records)  # the scan reads real lines
    assert not [r for r in records if not r["logger"].startswith("bot") and r["level"] in ("DEBUG", "INFO")]
    leaks = [(r["message"], word) for r in records for word in PERSONAL if word in json.dumps(r, ensure_ascii=False)]
    assert leaks == []
    wait_for(lambda: not live_members(group), "the daemon's workers to end")
