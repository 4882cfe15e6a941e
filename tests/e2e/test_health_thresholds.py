"""The `[health]` table decides when `strategy-bot health` says degraded or down.

The same real SQLite store, written by the daemon's own round and the service, is judged at the
same moment under the defaults and under a changed table: only the thresholds differ, and so
does the verdict. The command itself is run too, as a monitor runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.sql_store import SqlStore
from bot.cli import main
from bot.config import Config, ConfigError, load_config
from bot.daemon import Daemon
from bot.health import Probe, State, check_daemon, check_outbox, check_timers
from bot.ports import IncomingMail
from tests.e2e.test_health_and_metrics import built
from tests.support.requests_mail import StepClock, london, request_email

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, name: str, health: str = "") -> Path:
    """The example, with a `[health]` table of ``health``'s lines when given; beside the others, same data folder."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    if health:
        text += f"\n[health]\n{health}\n"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_changed_thresholds_change_each_checks_verdict_on_the_same_store(tmp_path: Path) -> None:
    default = load_config(write_config(tmp_path, "default.toml"))
    strict = load_config(
        write_config(
            tmp_path,
            "strict.toml",
            "daemon_down_minutes = 2\noutbox_degraded_minutes = 2\noutbox_down_minutes = 3\ntimer_overdue_minutes = 3",
        )
    )
    lenient = load_config(
        write_config(tmp_path, "lenient.toml", "daemon_down_minutes = 600\ntimer_overdue_minutes = 100000")
    )
    assert (default.health.outbox_degraded_minutes, default.health.outbox_down_minutes) == (10.0, 60.0)
    at = london("2030-11-25 09:00")  # a Monday
    bot = built(default)
    try:
        Daemon(bot, StepClock(at)).round()  # the heartbeat
        bot.service.handle(IncomingMail("k", request_email(at, message_id="<thresholds@council.example>"), at), at)
    finally:
        bot.close()

    store = SqlStore(default.store.url)
    try:

        def verdicts(config: Config, minutes: float) -> tuple[State, State]:
            probe = Probe(config, store, at + timedelta(minutes=minutes))
            return check_daemon(probe).state, check_outbox(probe).state

        # Four minutes on: quiet by the defaults, the daemon silent and the outbox stuck by the strict table.
        assert verdicts(default, 4) == (State.OK, State.OK)
        assert verdicts(strict, 4) == (State.DOWN, State.DOWN)
        assert verdicts(strict, 2.5) == (State.DOWN, State.DEGRADED)
        assert check_outbox(Probe(strict, store, at + timedelta(minutes=2.5))).detail.startswith(
            "1 waiting, the oldest for 2 min (since Mon 25 Nov 2030 09:00)"
        )
        # Hours on: down by the defaults, the daemon still trusted by the lenient table.
        assert verdicts(default, 120)[0] is State.DOWN
        assert verdicts(lenient, 120)[0] is State.OK

        # The booking's timers: the first one due, then two minutes past it.
        with store.transaction() as tx:
            first = min(timer.due_at for timer in tx.pending_timers())
        late = first + timedelta(minutes=2)
        found = check_timers(Probe(default, store, late))
        assert found.state is State.DOWN and "overdue by more than a minute" in found.detail
        assert check_timers(Probe(strict, store, late)).state is State.OK  # 3 minutes' grace
        found = check_timers(Probe(strict, store, first + timedelta(minutes=4)))
        assert found.state is State.DOWN and "overdue by more than 3 minutes" in found.detail
        assert check_timers(Probe(lenient, store, late + timedelta(days=30))).state is State.OK
    finally:
        store.dispose()


def test_the_health_command_reads_the_table_from_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default_path = write_config(tmp_path, "default.toml")
    config = load_config(default_path)
    now = datetime.now(UTC)
    bot = built(config)
    try:
        Daemon(bot, StepClock(now)).round()
        # A request read three minutes ago whose emails are still waiting: young by the defaults.
        queued = now - timedelta(minutes=3)
        mail = request_email(queued, message_id="<waiting@council.example>")
        bot.service.handle(IncomingMail("k", mail, queued), queued)
    finally:
        bot.close()

    assert main(["health", "--config", str(default_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "strategy-bot health: OK", lines

    strict_path = write_config(tmp_path, "strict.toml", "outbox_degraded_minutes = 2")
    assert main(["health", "--config", str(strict_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "strategy-bot health: DEGRADED (outbox)", lines
    [outbox] = [line for line in lines if line.split()[1] == "outbox:"]
    assert outbox.startswith("degraded outbox: ") and "waiting, the oldest for 3 min" in outbox


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (
            "outbox_degraded_minutes = 30\noutbox_down_minutes = 20",
            "health.outbox_down_minutes: got 20.0; expected at least health.outbox_degraded_minutes (30)",
        ),
        ("timer_overdue_minutes = 0", "health.timer_overdue_minutes: got 0; expected a number, 0.5 or more"),
        ("daemon_down_minute = 5", "health.daemon_down_minute: unknown key"),
    ],
)
def test_a_bad_health_table_is_refused_naming_the_key(tmp_path: Path, lines: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, "bad.toml", lines))
    assert str(raised.value).startswith(error)
