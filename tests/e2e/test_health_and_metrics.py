"""`strategy-bot health` in each state, and the metrics' conventions across a real run.

The store is the real SQLite store, written by the daemon's own rounds (``Daemon.round`` on
the configured Maildir inbox and sender, on a clock the test moves); `health` and `metrics`
are the commands an admin or a monitor runs.
"""

from __future__ import annotations

import mailbox
import shutil
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.sql_store import SqlStore
from bot.cli import main
from bot.config import Config, load_config
from bot.daemon import Daemon
from bot.health import Probe, State, check_daemon, check_inbox, check_outbox, check_timers, run_checks
from bot.metrics import render_metrics
from bot.ports import IncomingMail
from bot.wiring import Bot, build
from tests.support.requests_mail import StepClock, london, request_email

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, key_env: str | None = None) -> Path:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    if key_env:
        text = text.replace("[privacy]\n", f'[privacy]\nkey_env = "{key_env}"\n', 1)
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def built(config: Config) -> Bot:
    for folder in (config.inbox.path, config.sender.path):  # what `strategy-bot init` makes
        folder.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(folder, create=True)
    return build(config)


def deliver(bot: Bot, raw: bytes) -> None:
    assert bot.inbox is not None
    bot.inbox.deliver(raw)  # type: ignore[attr-defined]


def health(config_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["health", "--config", str(config_path)])
    return code, capsys.readouterr().out.splitlines()


def test_health_is_down_without_a_database_and_creates_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path)
    code, lines = health(config_path, capsys)
    assert code == 2
    assert lines[0].startswith("strategy-bot health: DOWN (database")
    assert f"down     database: no database at {tmp_path / 'strategy-bot-data' / 'bot.sqlite3'}" in lines
    assert not (tmp_path / "strategy-bot-data" / "bot.sqlite3").exists()


def test_health_is_ok_after_a_round_and_down_once_rounds_and_timers_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    now = datetime.now(UTC)
    bot = built(config)
    try:
        deliver(bot, request_email(now, message_id="<health.ok@council.example>"))
        Daemon(bot, StepClock(now)).round()
    finally:
        bot.close()

    code, lines = health(config_path, capsys)
    assert code == 0, lines
    assert lines[0] == "strategy-bot health: OK"
    assert [line.split()[0] for line in lines[1:]] == ["ok"] * (len(lines) - 1)
    names = {line.split(None, 1)[1].split(":")[0] for line in lines[1:]}
    assert {"database", "daemon", "inbox", "outbox", "timers", "sealing key"} <= names
    assert "Bond" not in "".join(lines) and "N146782" not in "".join(lines)

    # The daemon gone for days: no heartbeat and the booking's reminders long overdue.
    store = SqlStore(config.store.url)
    try:
        later = Probe(config, store, now + timedelta(days=12))
        findings = {f.name: f for f in run_checks(later)}
        assert findings["daemon"].state is State.DOWN and "no round since" in findings["daemon"].detail
        assert findings["timers"].state is State.DOWN
        assert "overdue by more than a minute" in findings["timers"].detail
        assert check_timers(Probe(config, store, now + timedelta(seconds=30))).state is State.OK
    finally:
        store.dispose()


def test_health_is_degraded_while_the_inbox_fails_and_down_past_the_silence_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    now = datetime.now(UTC)
    bot = built(config)
    try:
        Daemon(bot, StepClock(now)).round()  # the inbox answers: recorded
        shutil.rmtree(config.inbox.path)  # then its folder goes (an unmounted share, say)
        Daemon(bot, StepClock(now)).round()
    finally:
        bot.close()

    code, lines = health(config_path, capsys)
    assert code == 1, lines
    assert lines[0] == "strategy-bot health: DEGRADED (inbox)"
    [inbox] = [line for line in lines if line.split()[1] == "inbox:"]
    assert inbox.startswith("degraded inbox: maildir: NOT ANSWERING since ")

    store = SqlStore(config.store.url)
    try:
        silence = timedelta(minutes=config.inbox.silence_alert_minutes)
        assert check_inbox(Probe(config, store, now + silence)).state is State.DOWN
        assert check_daemon(Probe(config, store, now + timedelta(minutes=1))).state is State.OK
    finally:
        store.dispose()


def test_health_is_down_when_the_configured_sealing_key_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(tmp_path)
    bot = built(load_config(config_path))
    try:
        Daemon(bot, StepClock(datetime.now(UTC))).round()
    finally:
        bot.close()
    monkeypatch.delenv("TEST_SEALING_KEY", raising=False)
    sealed = write_config(tmp_path, key_env="TEST_SEALING_KEY")
    code, lines = health(sealed, capsys)
    assert code == 2
    assert lines[0] == "strategy-bot health: DOWN (sealing key)"
    assert "down     sealing key: privacy.key_env: $TEST_SEALING_KEY is not set in this environment" in lines
    monkeypatch.setenv("TEST_SEALING_KEY", "not a key")
    assert health(sealed, capsys)[0] == 2
    from bot.sealing import new_key

    monkeypatch.setenv("TEST_SEALING_KEY", new_key())
    code, lines = health(sealed, capsys)
    assert code == 0, lines


def test_the_outbox_check_turns_degraded_then_down_as_the_oldest_email_ages(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    at = london("2030-11-25 09:00")
    bot = built(config)
    try:
        bot.service.handle(IncomingMail("k", request_email(at, message_id="<aged@council.example>"), at), at)
    finally:
        bot.close()
    store = SqlStore(config.store.url)
    try:
        states = [check_outbox(Probe(config, store, at + timedelta(minutes=m))) for m in (1, 11, 61)]
    finally:
        store.dispose()
    assert [f.state for f in states] == [State.OK, State.DEGRADED, State.DOWN]
    assert states[1].detail.startswith("1 waiting, the oldest for 11 min (since Mon 25 Nov 2030 09:00)")


def samples(text: str) -> tuple[dict[str, str], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """Each family's type, and each sample's value, from the text a scraper reads."""
    types: dict[str, str] = {}
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return types, values


def test_counters_only_go_up_across_a_run_and_the_names_follow_the_conventions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten simulated days of a real run, every timer of two cases firing: the slowest test of this file."""
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    # Real time: the Maildir inbox takes a message's receipt time from its file.
    at = datetime.now(UTC)
    bot = built(config)
    try:
        for n, number in enumerate(["N146782", "N311907"]):
            deliver(bot, request_email(at, n_number=number, message_id=f"<run.{n}@council.example>"))
        forged = request_email(
            at, sender="Alex Morgan <alex.morgan@evil.example>", message_id="<run.forged@evil.example>"
        )
        deliver(bot, forged)  # quarantined
        Daemon(bot, StepClock(at)).round()
        first = render_metrics(bot, at)
        # The administrator deletes the quarantined message: it was still quarantined once.
        assert main(["quarantine", "list", "--config", str(config_path)]) == 0
        [listed] = [line for line in capsys.readouterr().out.splitlines() if "evil.example" in line]
        assert main(["quarantine", "delete", listed.split()[0], "--by", "bot.admin", "--config", str(config_path)]) == 0
        # More work: a cancellation (its timers end), another request, and days later the
        # reminders and chases fire.
        cancel_at = at + timedelta(minutes=30)
        deliver(
            bot,
            request_email(
                cancel_at,
                subject="RE: Strategy discussion N146782",
                message_id="<run.cancel@council.example>",
                in_reply_to="<SD000001.confirmation.1@police.example>",
                body="CANCEL\n\nThanks\n",
            ),
        )
        deliver(bot, request_email(cancel_at, n_number="N400001", message_id="<run.2@council.example>"))
        Daemon(bot, StepClock(cancel_at)).round()
        later = at + timedelta(days=10)
        Daemon(bot, StepClock(later)).round()
        second = render_metrics(bot, later)
    finally:
        bot.close()

    types, before = samples(first)
    types_after, after = samples(second)
    counters = [key for key in before if types.get(key[0].removesuffix("_total")) == "counter"]
    assert counters, first
    went_down = [(key, before[key], after.get(key)) for key in counters if after.get(key, -1) < before[key]]
    assert went_down == []
    grew = {key[0] for key in counters if after[key] > before[key]}
    assert {"strategy_bot_messages_total", "strategy_bot_emails_total", "strategy_bot_events_total"} <= grew
    quarantined = ("strategy_bot_messages_total", (("kind", "unrecognised"), ("outcome", "quarantine")))
    assert before[quarantined] == after[quarantined] == 1
    assert after[("strategy_bot_events_total", (("action", "quarantined"),))] == 1
    assert any(key[0] == "strategy_bot_timers_total" and dict(key[1])["status"] == "cancelled" for key in after)
    assert any(key[0] == "strategy_bot_timers_total" and dict(key[1])["status"] == "fired" for key in after)

    # What is waiting is a gauge, and may go down; nothing waiting is counted in a *_total.
    assert types_after["strategy_bot_emails_queued"] == "gauge"
    assert types_after["strategy_bot_timers_pending"] == "gauge"
    assert not [k for k in after if k[0].endswith("_total") and dict(k[1]).get("status") in ("pending", "sending")]
    for name, kind in types_after.items():
        assert kind == "gauge" or not name.endswith("_timestamp_seconds"), name
    # A counter's samples are named *_total, and only a counter's are.
    for family in text_string_to_metric_families(second):
        for sample in family.samples:
            assert (family.type == "counter") == sample.name.endswith("_total"), (family.name, sample.name)
    assert after[("strategy_bot_build_info", (("version", metadata.version("strategy-bot")),))] == 1
    assert after[("strategy_bot_last_round_timestamp_seconds", ())] == later.timestamp()  # the heartbeat
    assert after[("strategy_bot_metrics_timestamp_seconds", ())] == later.timestamp()
    assert "strategy_bot_inbox_state_since_timestamp_seconds" in types_after
    assert "strategy_bot_inbox_state_since_seconds" not in types_after  # the old name of a timestamp
    assert "N146782" not in second and "Bond" not in second
