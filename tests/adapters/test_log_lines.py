"""The log as an admin reads it: the formats, the library cap and the summary of a repeated failure.

Records go through the very handler `strategy-bot run` installs (bot.logging_setup.configure),
into a buffer; each test restores the logging set-up it found.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.config.schema import LoggingConfig
from bot.logging_setup import configure, flush_repeats

REPO = Path(__file__).resolve().parents[2]
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def emit(name: str, level: int, message: str, *args: object, created: float | None = None) -> None:
    logger = logging.getLogger(name)
    record = logger.makeRecord(name, level, __file__, 0, message, args, None)
    if created is not None:
        record.created = created
    if logger.isEnabledFor(level):
        logger.handle(record)


def test_text_lines_carry_an_iso_time_with_its_offset() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    emit("bot.service", logging.INFO, "case %s booked", "SD000001")
    emit("bot.service", logging.DEBUG, "not at info")
    (line,) = out.getvalue().splitlines()
    stamp, level, name, message = line.split(" ", 3)
    assert ISO_WITH_OFFSET.match(stamp), stamp
    assert datetime.fromisoformat(stamp).utcoffset() is not None
    assert (level, name, message) == ("INFO", "bot.service:", "case SD000001 booked")


def test_json_lines_parse_one_object_each() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="json", repeat_summary_seconds=300), verbose=False, stream=out)
    emit("bot.daemon", logging.WARNING, 'the referral inbox does not answer: "refused"\nsecond line')
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bot.daemon").exception("round failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "bot.daemon"
    assert first["message"] == 'the referral inbox does not answer: "refused"\nsecond line'
    assert ISO_WITH_OFFSET.match(first["time"])
    assert second["message"] == "round failed" and "ValueError: boom" in second["traceback"]


@pytest.mark.parametrize("settings_level", ["debug", "info"])
def test_libraries_say_nothing_below_warning_even_verbose(settings_level: str) -> None:
    out = io.StringIO()
    configure(LoggingConfig(level=settings_level, format="text", repeat_summary_seconds=300), verbose=True, stream=out)
    # A library lowering its own logger's level must not get through either.
    logging.getLogger("imapclient.imaplib").setLevel(logging.DEBUG)
    emit("imapclient.imaplib", logging.DEBUG, "> b'Children's surname: Bond'")
    emit("imapclient", logging.INFO, "Logged in as %s", "referrals@police.example")
    emit("apscheduler.executors.default", logging.INFO, 'Running job "round"')
    emit("exchangelib.protocol", logging.DEBUG, "Authorization: NTLM secret")
    emit("bot.daemon", logging.DEBUG, "our own debug line")
    emit("apscheduler.scheduler", logging.WARNING, "Run time of job was missed")
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "DEBUG bot.daemon: our own debug line",
        "WARNING apscheduler.scheduler: Run time of job was missed",
    ]


def test_a_repeated_failure_is_logged_once_then_summed_up() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    start = datetime(2026, 11, 30, 9, 1).astimezone().timestamp()
    # Every second for ten minutes, the same failure; another line in between is not held back.
    for second in range(600):
        emit("bot.daemon", logging.ERROR, "round failed: %s", "OperationalError", created=start + second)
        if second == 10:
            emit("bot.daemon", logging.WARNING, "the referral inbox does not answer", created=start + second)
    messages = [line.split(": ", 1)[1] for line in out.getvalue().splitlines()]
    assert messages == [
        "round failed: OperationalError",
        "the referral inbox does not answer",
        "round failed: OperationalError (repeated 299 more times since 09:01)",
    ]


def test_a_burst_held_back_is_summed_up_before_the_next_line_once_the_time_has_passed() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    start = datetime(2026, 11, 30, 9, 1).astimezone().timestamp()
    for n in range(5):  # five messages quarantined for one reason within a minute
        emit("bot.service", logging.WARNING, "message quarantined: unreadable", created=start + n)
    emit("bot.daemon", logging.INFO, "strategy calendar published", created=start + 100)
    emit("bot.daemon", logging.INFO, "strategy calendar published", created=start + 400)
    messages = [line.split(": ", 1)[1] for line in out.getvalue().splitlines()]
    assert messages == [
        "message quarantined: unreadable",
        "strategy calendar published",
        "message quarantined: unreadable (repeated 4 more times since 09:01)",
        "strategy calendar published",
    ]
    summary = out.getvalue().splitlines()[2]
    assert " WARNING bot.service: " in summary  # the held-back lines' own level and logger


def test_info_lines_are_never_held_back() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    for _ in range(3):
        emit("bot.daemon", logging.INFO, "strategy calendar published")
    assert len(out.getvalue().splitlines()) == 3


def test_the_level_key_quietens_our_own_lines() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="warning", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    emit("bot.service", logging.INFO, "case booked")
    emit("bot.service", logging.WARNING, "timer late")
    assert [line.split(" ", 1)[1] for line in out.getvalue().splitlines()] == ["WARNING bot.service: timer late"]


def test_a_bad_logging_key_is_refused_naming_it(tmp_path: Path) -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8") + '\n[logging]\nformat = "xml"\n'
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"logging\.format.*'xml'.*'text', 'json'"):
        load_config(path)
    path.write_text(text.replace('"xml"', '"json"') + 'level = "warning"\n', encoding="utf-8")
    assert load_config(path).logging == LoggingConfig(level="warning", format="json", repeat_summary_seconds=300)


def test_apscheduler_s_skipped_poll_while_a_round_runs_is_not_logged() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    for second in range(3):
        emit(
            "apscheduler.scheduler",
            logging.WARNING,
            'Execution of job "Daemon.round (trigger: interval[0:00:00.500000], next run at: 05:55:4%d UTC)" '
            "skipped: maximum number of running instances reached (1)",
            second,
        )
    assert out.getvalue() == ""


def test_what_is_held_back_is_summed_up_when_the_daemon_stops() -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="json", repeat_summary_seconds=300), verbose=False, stream=out)
    for _ in range(3):
        emit("bot.daemon", logging.WARNING, "waiting for mail failed: connection refused")
    flush_repeats()
    emit("bot.daemon", logging.INFO, "strategy-bot stopped")
    messages = [json.loads(line)["message"] for line in out.getvalue().splitlines()]
    assert messages[0] == "waiting for mail failed: connection refused"
    assert messages[1].startswith("waiting for mail failed: connection refused (repeated 2 more times since ")
    assert messages[2] == "strategy-bot stopped"


def test_nothing_held_back_is_written_to_a_stream_already_closed_at_exit(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    configure(LoggingConfig(level="info", format="text", repeat_summary_seconds=300), verbose=False, stream=out)
    for _ in range(3):
        emit("bot.daemon", logging.WARNING, "waiting for mail failed: connection refused")
    out.close()  # as a test harness's capture is, before the interpreter's exit hooks run
    flush_repeats()
    assert "Logging error" not in capsys.readouterr().err
