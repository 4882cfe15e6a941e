"""What `strategy-bot metrics` prints and the daemon writes to ``metrics.textfile``.

The Prometheus text format, so node_exporter's textfile collector (or any scraper that reads
a file) picks it up. Every label is one of the bot's own words (a kind, an outcome, a purpose,
a state); nothing read from a message reaches a metric, so no name or N number can.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from bot.throttling import ROLES, recorded
from bot.wiring import Bot

# (metric, help, type, label names) for each tally the store keeps.
_TALLIES = {
    "messages": (
        "strategy_bot_messages_total",
        "Messages handled, by kind and outcome.",
        "counter",
        ("kind", "outcome"),
    ),
    "cases": ("strategy_bot_cases", "Cases, by kind and state.", "gauge", ("kind", "state")),
    "emails": (
        "strategy_bot_emails_total",
        "Emails queued, by purpose and delivery status.",
        "counter",
        ("purpose", "status"),
    ),
    "timers": (
        "strategy_bot_timers_total",
        "Timers, by purpose, status and whether they fired late.",
        "counter",
        ("purpose", "status", "late"),
    ),
    "bookings": ("strategy_bot_bookings", "Bookings in the strategy calendar, by status.", "gauge", ("status",)),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(bot: Bot, now: datetime) -> str:
    with bot.store.transaction() as tx:
        tallies = tx.tallies()
        overdue = tx.overdue_timer_count(now)
        pending = tx.pending_email_count()
        oldest = tx.oldest_pending_email()
    lines: list[str] = []
    for table, (name, help_text, kind, labels) in _TALLIES.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for tally, values, count in tallies:
            if tally == table:
                if table == "timers":
                    values = (*values[:2], "yes" if values[2] == "1" else "no")
                pairs = ",".join(f'{label}="{_label(value)}"' for label, value in zip(labels, values, strict=True))
                lines.append(f"{name}{{{pairs}}} {count}")

    def gauge(name: str, help_text: str, value: float) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_shown(value)}"])

    gauge("strategy_bot_timers_overdue", "Pending timers already past their due time.", overdue)
    gauge("strategy_bot_outbox_pending", "Emails waiting to be delivered.", pending)
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    gauge("strategy_bot_outbox_oldest_pending_seconds", "Age of the oldest email waiting to be delivered.", age)
    health = bot.store.get_state("health:inbox")
    if health:
        inbox = json.loads(health)
        gauge("strategy_bot_inbox_up", "1 when the referral inbox's server answered at the last try.", int(inbox["ok"]))
        since = datetime.fromisoformat(inbox["since"]).timestamp()
        gauge("strategy_bot_inbox_state_since_seconds", "Unix time the inbox's server last changed state.", since)
    throttled = recorded(bot.store, now)
    until_name, left_name = "strategy_bot_throttled_until_seconds", "strategy_bot_throttled_seconds"
    until_lines = [
        f"# HELP {until_name} Unix time the mail server lets the role ask again; 0 when it is not kept waiting.",
        f"# TYPE {until_name} gauge",
    ]
    left_lines = [
        f"# HELP {left_name} Seconds the mail server keeps the role waiting, from the time these figures were read.",
        f"# TYPE {left_name} gauge",
    ]
    for role in ROLES:
        until = throttled.get(role)
        until_lines.append(f'{until_name}{{role="{role}"}} {_shown(until.timestamp() if until else 0.0)}')
        left_lines.append(f'{left_name}{{role="{role}"}} {_shown((until - now).total_seconds() if until else 0.0)}')
    lines += until_lines + left_lines
    gauge("strategy_bot_metrics_time_seconds", "Unix time these figures were read.", now.timestamp())
    return "\n".join(lines) + "\n"


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def write_textfile(path: Path, text: str) -> None:
    """Whole or not at all: a scraper never reads half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
