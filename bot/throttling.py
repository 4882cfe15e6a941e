"""Throttling an administrator can see: which role a mail server keeps waiting, and until when.

Microsoft Graph's ``Retry-After`` and Exchange's ``ErrorServerBusy`` can keep a role (the
inbox, the sender, the calendar) off its mailbox for minutes. The daemon asks the adapters
in those three slots every round (``ThrottleWatch``): what it finds goes into the store's
adapter state, where ``strategy-bot status`` and ``metrics`` (other processes) read it, and
a wait longer than ``graph.throttle_alert_seconds`` / ``ews.throttle_alert_seconds`` emails
the administrator once per episode, naming the role and the London time it resumes. Roles
and times only: no mailbox address, nothing read from a message.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.model import wall_clock
from bot.ports import AdapterState, Throttled

if TYPE_CHECKING:  # status and metrics read ROLES and recorded without building the bot
    from bot.wiring import Bot

log = logging.getLogger(__name__)

ROLES = ("inbox", "sender", "calendar")
# The adapter state row ``status`` and ``metrics`` read: {role: ISO time it resumes}.
STATE_KEY = "throttled"
SERVERS = {"graph": "Microsoft Graph", "ews": "Exchange"}
# What waits while each role is kept off its mailbox, for the alert.
CONSEQUENCES = {
    "inbox": "New requests wait unread in the referral mailbox until then, so no urgent request can be chased.",
    "sender": "Every email, escalations included, waits in the outbox until then (this alert may wait with them).",
    "calendar": "The strategy calendar cannot be read or changed until then: nothing can be booked, moved or "
    "cancelled in it.",
}


def kind_of(bot: Bot, role: str) -> str:
    """The configured adapter kind of a role: "graph", "ews", "imap"..."""
    kinds = {"inbox": bot.config.inbox.kind, "sender": bot.config.sender.kind, "calendar": bot.config.calendar.kind}
    return kinds[role]


def alert_seconds(bot: Bot, role: str) -> float | None:
    """The configured wait past which the administrator is told; None for a kind that is never throttled."""
    server = {"graph": bot.config.graph, "ews": bot.config.ews}.get(kind_of(bot, role))
    return None if server is None else float(server.throttle_alert_seconds)


def throttled_now(bot: Bot) -> dict[str, datetime]:
    """Each role whose adapter is kept off its mailbox, with when it may ask again."""
    found: dict[str, datetime] = {}
    for role, adapter in zip(ROLES, (bot.inbox, bot.sender, bot.calendar), strict=True):
        if isinstance(adapter, Throttled):
            until = adapter.throttled_until()
            if until is not None:
                found[role] = until
    return found


def recorded(state: AdapterState, now: datetime) -> dict[str, datetime]:
    """What the daemon last recorded, less the waits already over at ``now``."""
    text = state.get_state(STATE_KEY)
    if not text:
        return {}
    try:
        rows = json.loads(text)
        found = {str(role): datetime.fromisoformat(str(when)) for role, when in dict(rows).items()}
    except (TypeError, ValueError):  # a row written by hand or half-read: nothing to show
        return {}
    return {role: until for role, until in found.items() if until > now}


def _record(state: AdapterState, throttled: dict[str, datetime], now: datetime) -> None:
    value = json.dumps({role: until.isoformat() for role, until in sorted(throttled.items())})
    if state.get_state(STATE_KEY) != value:
        state.put_state(STATE_KEY, value, now)


class ThrottleWatch:
    """The daemon's eye on throttling: records it each round and alerts once per episode.

    An episode is a role kept off its mailbox without a break: a new wait seen before the
    last one has passed belongs to the same episode, so it is never alerted twice.
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.episodes: dict[str, datetime] = {}  # role -> the latest resume time seen in its episode
        self.alerted: set[str] = set()

    def watch(self, now: datetime) -> bool:
        """Record who is kept waiting; True when an alert was queued."""
        throttled = throttled_now(self.bot)
        alerted = False
        _record(self.bot.store, throttled, now)
        for role in list(self.episodes):
            if role not in throttled:
                del self.episodes[role]
                self.alerted.discard(role)
        for role, until in throttled.items():
            previous = self.episodes.get(role)
            if previous is not None and previous <= now:
                self.alerted.discard(role)  # the last wait passed: this is a new episode
            self.episodes[role] = until
            limit = alert_seconds(self.bot, role)
            if role in self.alerted or limit is None or (until - now).total_seconds() <= limit:
                continue
            self.alerted.add(role)
            self._alert(role, until, now)
            alerted = True
        return alerted

    def _alert(self, role: str, until: datetime, now: datetime) -> None:
        server = SERVERS.get(kind_of(self.bot, role), kind_of(self.bot, role))
        tz = self.bot.config.bot.timezone
        minutes = max(1, round((until - now).total_seconds() / 60))
        log.warning("%s keeps the %s waiting until %s", server, role, until.isoformat())
        self.bot.service.alert_admin(
            f"throttled {role} until {until.isoformat()}",
            f"{server} keeps the bot's {role} waiting until {until.astimezone(tz):%H:%M}",
            [
                ("Role", role),
                ("Server", server),
                ("Resumes at", wall_clock(until, tz)),
                ("Waiting", f"about {minutes} minute{'s' if minutes != 1 else ''}"),
            ],
            f"{server} asked the bot to stop calling it for a while, and the bot does as it asks. "
            f"{CONSEQUENCES[role]} Nothing is lost: the bot carries on by itself at that time. If this happens "
            "often, ask the Exchange administrator what else uses the mailbox.",
            now,
        )
