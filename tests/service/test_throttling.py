"""Throttling you can see (issue 16 item 6): a long wait alerts the administrator once; status and metrics show it.

The daemon runs on Graph (tests/support/fake_graph.py) or EWS (tests/support/fake_ews.py)
for all three roles. The adapters and the daemon share one fake clock: a wait in place moves
it on, nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import responses
from exchangelib.protocol import CachingProtocol
from prometheus_client.utils import floatToGoString

from bot.config import Config, ConfigError, EwsConfig, GraphConfig, load_config
from bot.daemon import Daemon
from bot.metrics import render_metrics
from bot.status import render_status
from bot.throttling import STATE_KEY, recorded
from bot.wiring import Bot, build
from tests.support.fake_ews import FakeEws
from tests.support.fake_graph import AUTHORITY, CLIENT_ID, ENDPOINT, SECRET, TENANT, FakeGraph
from tests.support.requests_mail import SleepClock, london, plain_text, queued_emails

MAILBOX = "referrals@police.example"
CALENDAR_MAILBOX = "strategy.calendar@police.example"
EWS_ENDPOINT = "https://mail.police.example/EWS/Exchange.asmx"
ADMIN = "bot.admin@police.example"
T0 = london("2026-11-23 09:00")  # the fake clock's start, a Monday
DELTA = r"/messages/delta$"


class Clock(SleepClock):
    """The daemon's clock (the ``Clock`` port) and the adapters' ``now``/``sleep`` in one."""

    speed = 1.0


def graph_config(**changes: Any) -> GraphConfig:
    cfg = GraphConfig(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret_env="TEST_GRAPH_SECRET",
        certificate_path=None,
        certificate_thumbprint=None,
        mailbox=MAILBOX,
        calendar_mailbox=CALENDAR_MAILBOX,
        authority=AUTHORITY,
        endpoint=ENDPOINT,
        timeout_seconds=5.0,
        max_wait_seconds=60.0,
        throttle_alert_seconds=120.0,
    )
    return replace(cfg, **changes)


def ews_config() -> EwsConfig:
    return EwsConfig(
        endpoint=EWS_ENDPOINT,
        username="POLICE\\svc-strategy-bot",
        password_env="TEST_EWS_PASSWORD",
        auth_type="NTLM",
        mailbox=MAILBOX,
        calendar_mailbox=CALENDAR_MAILBOX,
        autodiscover=False,
        ca_file=None,
        timeout_seconds=5.0,
        max_wait_seconds=60.0,
        throttle_alert_seconds=120.0,
    )


def on_kind(config: Config, kind: str) -> Config:
    return replace(
        config,
        inbox=replace(config.inbox, kind=kind),
        sender=replace(config.sender, kind=kind),
        calendar=replace(config.calendar, kind=kind, ics_path=None),
        graph=graph_config() if kind == "graph" else None,
        ews=ews_config() if kind == "ews" else None,
    )


def on_clock(bot: Bot, clock: Clock) -> None:
    """Every Graph client and EWS mailbox of the bot waits and reads the time on ``clock``."""
    for adapter in (bot.inbox, bot.sender, bot.calendar):
        for part in (adapter, getattr(adapter, "client", None), getattr(adapter, "mailbox", None)):
            if part is not None and not isinstance(part, str):
                for name, value in (("now", clock.now), ("sleep", clock.sleep)):
                    if hasattr(part, name):
                        setattr(part, name, value)


def admin_alerts(bot: Bot) -> list[EmailMessage]:
    return [m for m in queued_emails(bot) if str(m["To"]) == ADMIN and "waiting" in str(m["Subject"])]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    monkeypatch.setenv("TEST_GRAPH_SECRET", SECRET)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        graph = FakeGraph(rs)
        graph.mailbox(MAILBOX)
        graph.add_calendar(CALENDAR_MAILBOX, "Strategy Meeting")
        yield graph


@pytest.fixture
def fake_ews(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEws]:
    monkeypatch.setenv("TEST_EWS_PASSWORD", "correct horse")
    server = FakeEws()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        server.install(mock)
        yield server
    CachingProtocol.clear_cache()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def graph_daemon(config: Config, fake: FakeGraph, clock: Clock) -> Iterator[Daemon]:
    bot = build(on_kind(config, "graph"))
    on_clock(bot, clock)
    daemon = Daemon(bot, clock)
    daemon.round()  # connected: folders found, the delta link kept
    yield daemon
    bot.close()


def test_a_graph_throttle_past_the_limit_alerts_the_administrator_once_naming_the_role_and_the_time(
    graph_daemon: Daemon, fake: FakeGraph, clock: Clock
) -> None:
    bot = graph_daemon.bot
    fake.fail("GET", DELTA, 429, headers={"Retry-After": "600"}, code="ApplicationThrottled")
    graph_daemon.round()
    for _ in range(5):  # rounds while it lasts: the inbox is not asked, and nobody is told twice
        clock.advance(60)
        graph_daemon.round()

    [alert] = admin_alerts(bot)
    assert str(alert["Subject"]) == "Microsoft Graph keeps the bot's inbox waiting until 09:10"
    text = plain_text(alert)
    assert "Role:        inbox" in text and "Resumes at:  Mon 23 Nov 2026 09:10" in text
    assert MAILBOX not in text.split("Nothing is lost")[0]  # the role, not the mailbox (the signature names it)
    assert len(fake.calls("GET", DELTA)) == 2  # the first round's and the throttled one
    assert fake.mailbox(MAILBOX).sent  # the alert went out through the sender, which is not throttled

    status = render_status(bot, clock.now())
    assert "Throttled: inbox (graph) waits until Mon 23 Nov 2026 09:10" in status
    metrics = render_metrics(bot, clock.now()).splitlines()
    resumes = floatToGoString(london("2026-11-23 09:10").timestamp())
    assert f'strategy_bot_throttled_until_timestamp_seconds{{role="inbox"}} {resumes}' in metrics
    assert 'strategy_bot_throttled_seconds{role="inbox"} 300.0' in metrics  # at 09:05
    assert 'strategy_bot_throttled_seconds{role="sender"} 0.0' in metrics
    assert 'strategy_bot_throttled_until_timestamp_seconds{role="calendar"} 0.0' in metrics

    clock.advance(300)  # 09:10: Graph may be asked again
    graph_daemon.round()
    assert len(fake.calls("GET", DELTA)) == 3
    assert "Throttling: none" in render_status(bot, clock.now())
    assert 'strategy_bot_throttled_seconds{role="inbox"} 0.0' in render_metrics(bot, clock.now()).splitlines()
    assert recorded(bot.store, clock.now()) == {}

    fake.fail("GET", DELTA, 429, headers={"Retry-After": "900"}, code="ApplicationThrottled")
    graph_daemon.round()  # a new episode: told again
    assert [str(m["Subject"]) for m in admin_alerts(bot)][1:] == [
        "Microsoft Graph keeps the bot's inbox waiting until 09:25"
    ]


def test_a_graph_throttle_within_the_limit_is_shown_but_alerts_nobody(
    graph_daemon: Daemon, fake: FakeGraph, clock: Clock
) -> None:
    bot = graph_daemon.bot
    # 90 s: past graph.max_wait_seconds (60), so the inbox is held off; within the 120 s alert limit.
    fake.fail("GET", DELTA, 429, headers={"Retry-After": "90"}, code="ApplicationThrottled")
    graph_daemon.round()
    clock.advance(30)
    graph_daemon.round()

    assert admin_alerts(bot) == []
    assert "Throttled: inbox (graph) waits until Mon 23 Nov 2026 09:01" in render_status(bot, clock.now())
    assert 'strategy_bot_throttled_seconds{role="inbox"} 60.0' in render_metrics(bot, clock.now()).splitlines()


def test_a_short_wait_in_place_is_neither_shown_nor_alerted(
    graph_daemon: Daemon, fake: FakeGraph, clock: Clock
) -> None:
    fake.fail("GET", DELTA, 429, headers={"Retry-After": "20"}, code="ApplicationThrottled")
    graph_daemon.round()
    assert clock.sleeps == [20.0]
    assert admin_alerts(graph_daemon.bot) == []
    assert "Throttling: none" in render_status(graph_daemon.bot, clock.now())


def test_an_ews_back_off_past_the_limit_alerts_once_and_status_and_metrics_show_it(
    config: Config, fake_ews: FakeEws, clock: Clock
) -> None:
    bot = build(on_kind(config, "ews"))
    on_clock(bot, clock)
    daemon = Daemon(bot, clock)
    try:
        daemon.round()  # connected
        fake_ews.busy_once(600_000)  # BackOffMilliseconds: ten minutes
        daemon.round()
        throttled = recorded(bot.store, clock.now())
        for _ in range(3):
            clock.advance(60)
            daemon.round()
        alerts = admin_alerts(bot)
        status = render_status(bot, clock.now())
        metrics = render_metrics(bot, clock.now()).splitlines()
    finally:
        bot.close()

    [role] = throttled  # whichever role's request came first in the round
    assert throttled[role] == london("2026-11-23 09:10")
    [alert] = alerts
    assert str(alert["Subject"]) == f"Exchange keeps the bot's {role} waiting until 09:10"
    text = plain_text(alert)
    assert f"Role:        {role}" in text and "Resumes at:  Mon 23 Nov 2026 09:10" in text
    assert f"Throttled: {role} (ews) waits until Mon 23 Nov 2026 09:10" in status
    assert f'strategy_bot_throttled_seconds{{role="{role}"}} 420.0' in metrics  # at 09:03


def test_a_site_without_graph_or_ews_shows_no_throttling_line_and_metrics_of_zero(bot: Bot) -> None:
    assert "Throttl" not in render_status(bot, T0)
    metrics = render_metrics(bot, T0).splitlines()
    assert [line for line in metrics if line.startswith("strategy_bot_throttled_seconds{")] == [
        'strategy_bot_throttled_seconds{role="inbox"} 0.0',
        'strategy_bot_throttled_seconds{role="sender"} 0.0',
        'strategy_bot_throttled_seconds{role="calendar"} 0.0',
    ]


def test_a_stale_or_unreadable_throttle_row_shows_nothing(bot: Bot) -> None:
    bot.store.put_state(STATE_KEY, '{"inbox": "2026-11-23T09:10:00+00:00"}', T0)
    assert recorded(bot.store, london("2026-11-23 09:10")) == {}
    bot.store.put_state(STATE_KEY, "not json", T0)
    assert recorded(bot.store, T0) == {}


def test_the_alert_limit_is_read_from_the_config_and_may_not_be_below_max_wait(tmp_path: Path) -> None:
    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "bot.toml"
    graph = f'[graph]\ntenant_id = "{TENANT}"\nclient_id = "{CLIENT_ID}"\nclient_secret_env = "TEST_GRAPH_SECRET"\n'
    path.write_text(example + graph, encoding="utf-8")
    read = load_config(path, base=tmp_path).graph
    assert read is not None and read.throttle_alert_seconds == 120  # the default: two minutes
    path.write_text(example + graph + "max_wait_seconds = 300\nthrottle_alert_seconds = 60\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"graph.throttle_alert_seconds: got 60; expected at least .*\(300\)"):
        load_config(path, base=tmp_path)
    ews = f'[ews]\nendpoint = "{EWS_ENDPOINT}"\nusername = "u"\npassword_env = "P"\nthrottle_alert_seconds = 600\n'
    path.write_text(example + ews, encoding="utf-8")
    read_ews = load_config(path, base=tmp_path).ews
    assert read_ews is not None and read_ews.throttle_alert_seconds == 600
