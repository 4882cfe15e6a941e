"""What `strategy-bot metrics` prints and the daemon writes to ``metrics.textfile``.

The Prometheus text format, written by the official ``prometheus_client``, so node_exporter's
textfile collector (or any scraper that reads a file) picks it up. The conventions hold:

- ``*_total`` series are counters and only go up: messages handled, emails by how their delivery
  ended, timers by how they ended. What is still waiting (emails queued, timers pending) goes down
  as it is done, so it is a gauge with a name of its own (``strategy_bot_emails_queued``,
  ``strategy_bot_timers_pending``).
- A point in time is a ``*_timestamp_seconds`` gauge (Unix time); a duration is ``*_seconds``.
- ``strategy_bot_build_info{version}`` is 1; ``strategy_bot_last_round_timestamp_seconds`` is the
  daemon's heartbeat (recorded at most every 30 s).

Every label is one of the bot's own words (a kind, an outcome, a purpose, a state, a role);
nothing read from a message reaches a metric, so no name or N number can.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.delivery import sender_outage
from bot.health import HEARTBEAT_KEY, INBOX_KEY, ROUNDS_KEY
from bot.lease_status import leader_metrics
from bot.throttling import ROLES, recorded

if TYPE_CHECKING:  # a whole Bot or the store alone (`strategy-bot metrics` builds nothing else)
    from bot.store_opening import View

# Rows still in progress: counted in a gauge, not in the counter of how things ended.
WAITING_EMAIL = ("pending", "sending")
WAITING_TIMER = ("pending",)
QUARANTINED, DELETED = "quarantine", ("deleted",)


def version() -> str:
    try:
        return metadata.version("strategy-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Figures(Collector):
    """One reading of the store, as metric families."""

    def __init__(self, bot: View, now: datetime) -> None:
        self.bot = bot
        self.now = now

    def collect(self) -> Iterator[Metric]:
        bot, now = self.bot, self.now
        with bot.store.transaction() as tx:
            tallies = tx.tallies()
            overdue = tx.overdue_timer_count(now)
            pending = tx.pending_email_count()
            oldest = tx.oldest_pending_email()
        by_table: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for table, values, count in tallies:
            by_table.setdefault(table, []).append((values, count))

        yield _build_info(version())

        messages = CounterMetricFamily(
            "strategy_bot_messages", "Messages handled, by kind and outcome.", labels=("kind", "outcome")
        )
        handled: dict[tuple[str, str], int] = {}
        for (kind, outcome), count in by_table.get("messages", []):
            # A quarantined message an administrator deleted was still quarantined: the count stays.
            key = (kind, QUARANTINED if outcome in DELETED else outcome)
            handled[key] = handled.get(key, 0) + count
        for (kind, outcome), count in sorted(handled.items()):
            messages.add_metric([kind, outcome], count)
        yield messages

        events = CounterMetricFamily(
            "strategy_bot_events",
            "Entries in the append-only history, by action (received, booked, quarantined, email_sent, ...).",
            labels=("action",),
        )
        for (action,), count in by_table.get("events", []):
            events.add_metric([action], count)
        yield events

        yield _gauge("strategy_bot_cases", "Cases, by kind and state.", ("kind", "state"), by_table.get("cases", []))
        yield _gauge(
            "strategy_bot_bookings",
            "Bookings in the strategy calendar, by status.",
            ("status",),
            by_table.get("bookings", []),
        )

        emails = CounterMetricFamily(
            "strategy_bot_emails",
            "Emails whose delivery ended, by purpose and how (sent, failed).",
            labels=("purpose", "status"),
        )
        queued: dict[str, int] = {}
        for (purpose, status), count in by_table.get("emails", []):
            if status in WAITING_EMAIL:
                queued[purpose] = queued.get(purpose, 0) + count
            else:
                emails.add_metric([purpose, status], count)
        yield emails
        yield _gauge(
            "strategy_bot_emails_queued",
            "Emails waiting to be delivered, by purpose.",
            ("purpose",),
            [((purpose,), count) for purpose, count in sorted(queued.items())],
        )

        timers = CounterMetricFamily(
            "strategy_bot_timers",
            "Timers that ended, by purpose, how (fired, cancelled, failed) and whether they fired late.",
            labels=("purpose", "status", "late"),
        )
        waiting: dict[str, int] = {}
        for (purpose, status, late), count in by_table.get("timers", []):
            if status in WAITING_TIMER:
                waiting[purpose] = waiting.get(purpose, 0) + count
            else:
                timers.add_metric([purpose, status, "yes" if late == "1" else "no"], count)
        yield timers
        yield _gauge(
            "strategy_bot_timers_pending",
            "Timers waiting for their due time, by purpose.",
            ("purpose",),
            [((purpose,), count) for purpose, count in sorted(waiting.items())],
        )

        yield _single("strategy_bot_timers_overdue", "Pending timers already past their due time.", overdue)
        yield _single("strategy_bot_outbox_pending", "Emails waiting to be delivered.", pending)
        age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        yield _single(
            "strategy_bot_outbox_oldest_pending_seconds", "Age of the oldest email waiting to be delivered.", age
        )

        health = bot.store.get_state(INBOX_KEY)
        if health:
            inbox = json.loads(health)
            yield _single(
                "strategy_bot_inbox_up",
                "1 when the referral inbox's server answered at the last try.",
                int(inbox["ok"]),
            )
            yield _single(
                "strategy_bot_inbox_state_since_timestamp_seconds",
                "Unix time the inbox's server last changed state (answering or not).",
                datetime.fromisoformat(inbox["since"]).timestamp(),
            )
        rounds = json.loads(bot.store.get_state(ROUNDS_KEY) or '{"ok": true}')
        yield _single(
            "strategy_bot_rounds_failing",
            "1 while the daemon's rounds keep failing for one reason (5 in a row or more; bot/round_watch.py), else 0.",
            int(not rounds["ok"]),
        )
        beat = bot.store.get_state(HEARTBEAT_KEY)
        if beat:
            yield _single(
                "strategy_bot_last_round_timestamp_seconds",
                "Unix time the daemon last finished a round (its heartbeat, recorded at most every 30 s).",
                datetime.fromisoformat(beat).timestamp(),
            )

        outage = sender_outage(bot.store)
        yield _single(
            "strategy_bot_sender_up", "0 while the mail server does not take the bot's email, else 1.", int(not outage)
        )
        yield _single(
            "strategy_bot_sender_down_since_timestamp_seconds",
            "Unix time the mail server stopped taking the bot's email; 0 while it takes it.",
            outage.since.timestamp() if outage else 0.0,
        )

        throttled = recorded(bot.store, now)
        until = GaugeMetricFamily(
            "strategy_bot_throttled_until_timestamp_seconds",
            "Unix time the mail server lets the role ask again; 0 when it is not kept waiting.",
            labels=("role",),
        )
        left = GaugeMetricFamily(
            "strategy_bot_throttled_seconds",
            "Seconds the mail server keeps the role waiting, from the time these figures were read.",
            labels=("role",),
        )
        for role in ROLES:
            moment = throttled.get(role)
            until.add_metric([role], moment.timestamp() if moment else 0.0)
            left.add_metric([role], (moment - now).total_seconds() if moment else 0.0)
        yield until
        yield left
        yield from leader_metrics(bot)  # instances sharing a database: who leads; nothing on SQLite
        yield _single("strategy_bot_metrics_timestamp_seconds", "Unix time these figures were read.", now.timestamp())


def _build_info(value: str) -> Metric:
    info = GaugeMetricFamily(
        "strategy_bot_build_info", "The running build: 1, labelled with its version.", labels=["version"]
    )
    info.add_metric([value], 1)
    return info


def _gauge(name: str, help_text: str, labels: tuple[str, ...], rows: Iterable[tuple[tuple[str, ...], int]]) -> Metric:
    family = GaugeMetricFamily(name, help_text, labels=labels)
    for values, count in rows:
        family.add_metric(list(values), count)
    return family


def _single(name: str, help_text: str, value: float) -> Metric:
    return GaugeMetricFamily(name, help_text, value=value)


def render_metrics(bot: View, now: datetime) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(bot, now))
    return generate_latest(registry).decode("utf-8")


def write_textfile(path: Path, text: str) -> None:
    """Whole or not at all: a scraper never reads half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
