"""Rehearsal (`run --clock-start`): the inbox's receipt times put on the simulated clock (issue 17 item 7).

A Maildir gives the file's time and IMAP its INTERNALDATE: real times. On a simulated clock
a booking made from them would follow the real date while the history shows the simulated
one. ``RehearsalInbox`` gives each message the simulated time of its arrival instead: the
clock's now less its real age, scaled by the clock's speed, and never before the rehearsal
began (a backlog waiting at the start arrived, for the rehearsal, at its start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.ports import Clock, Inbox, IncomingMail
from bot.wiring import Bot


class RehearsalInbox:
    """An inbox whose messages were received on the simulated clock; everything else is the inbox's own."""

    def __init__(self, inbox: Inbox, clock: Clock, real_now: Callable[[], datetime] | None = None) -> None:
        self._inbox = inbox
        self._clock = clock
        self._real_now = real_now or (lambda: datetime.now(UTC))
        self._start = clock.now()

    def simulated(self, received_at: datetime) -> datetime:
        now = self._clock.now()
        age = max(self._real_now() - received_at, timedelta(0))
        return max(self._start, now - age * self._clock.speed)

    def pending(self) -> Iterator[IncomingMail]:
        for mail in self._inbox.pending():
            yield replace(mail, received_at=self.simulated(mail.received_at))

    def __getattr__(self, name: str) -> Any:
        # move, move_many, wait, purge, check, close, quarantine_folder, watcher ...: the inbox's.
        return getattr(self._inbox, name)


def rehearsing(bot: Bot, clock: Clock) -> Bot:
    """The bot with its inbox's receipt times on ``clock``; the daemon of `run --clock-start` runs on it."""
    if bot.inbox is None:
        return bot
    bot.inbox = RehearsalInbox(bot.inbox, clock)  # type: ignore[assignment]
    return bot
