"""A real `strategy-bot run` whose SMTP server is down: the warning once, then a summary line.

The daemon runs as a subprocess on the example's Maildir inbox, sending through SMTP to a
loopback port the allocator holds and nothing listens on (every try: connection refused). With
a short back-off and ``logging.repeat_summary_seconds = 1`` the delivery warning comes every
second or so; the log (standard error, as the journal gets it) must show it once, then
"(repeated N more times since HH:MM)". Waits have an overall deadline only.
"""

from __future__ import annotations

import mailbox
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import main
from tests.support.ports import Ports
from tests.support.requests_mail import request_email

REPO = Path(__file__).resolve().parents[2]
# Only so that a broken daemon fails the test instead of hanging the suite.
GIVE_UP_SECONDS = 180.0  # an overall bound only: a busy machine may be slow
LINE = re.compile(r"^(?P<stamp>\S+) (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<message>.*)$")
SUMMARY = re.compile(r"^(?P<text>.*) \(repeated (?P<count>\d+) more times since (?P<since>\d\d:\d\d)\)$")


def write_config(tmp_path: Path, port: int) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    for old, new in (
        ('kind = "maildir"\npath = "strategy-bot-data/sent"\n', 'kind = "smtp"\npath = "strategy-bot-data/sent"\n'),
        ("retry_first_seconds = 30\n", "retry_first_seconds = 0.2\nretry_max_seconds = 1\n"),
        ("# [sender.smtp]\n", f'[sender.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    text += "\n[logging]\nrepeat_summary_seconds = 1\n"
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def log_lines(log: Path) -> list[re.Match[str]]:
    return [m for m in map(LINE.match, log.read_text(encoding="utf-8").splitlines()) if m]


def test_a_warning_repeated_while_smtp_is_down_is_logged_once_then_summed_up(tmp_path: Path, ports: Ports) -> None:
    port = ports.take()
    assert ports.refuses(port)  # held by the allocator, listened on by no one
    config = write_config(tmp_path, port)
    assert main(["init", "--config", str(config)]) == 0
    inbox = mailbox.Maildir(tmp_path / "strategy-bot-data" / "inbox", create=False)
    inbox.add(request_email(datetime.now(UTC), message_id="<smtp.down@council.example>"))

    log = tmp_path / "daemon.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while not any(SUMMARY.match(m["message"]) for m in log_lines(log)):
            assert proc.poll() is None, f"the daemon ended ({proc.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no summary line:\n{log.read_text()}"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=GIVE_UP_SECONDS)
    assert code == 0, log.read_text()

    lines = log_lines(log)
    warning = f"emails not delivered, retried within 1 s: cannot reach 127.0.0.1:{port}: connection refused"
    [first] = [m for m in lines if m["message"] == warning]  # shown once in the whole run
    assert (first["level"], first["logger"]) == ("WARNING", "bot.delivery")
    summaries = [(m, SUMMARY.match(m["message"])) for m in lines]
    summed = [(m, s) for m, s in summaries if s is not None and s["text"] == warning]
    assert summed, log.read_text()
    line, summary = summed[0]
    assert lines.index(first) < lines.index(line)
    assert (line["level"], line["logger"]) == ("WARNING", "bot.delivery")
    assert int(summary["count"]) >= 1
    # "since" is when the line was shown: the first warning's own time, as its stamp says (HH:MM).
    assert summary["since"] == first["stamp"][11:16]
    # What was still held back at the stop is summed up before the last line, not lost.
    assert lines[-1]["message"] == "strategy-bot stopped"
