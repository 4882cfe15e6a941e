"""The loop: take each message from the inbox, hand it to the service, move it, send the outbox."""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

from bot.ports import Clock, Inbox
from bot.wiring import Bot

log = logging.getLogger(__name__)


class Daemon:
    """Runs until SIGTERM/SIGINT; a signal lets the message in hand finish first."""

    def __init__(self, bot: Bot, clock: Clock, deliver_every: int = 50, publish_every_seconds: float = 5.0) -> None:
        if bot.inbox is None or bot.delivery is None:
            raise ValueError("the daemon needs a bot built with its inbox and sender")
        self.bot = bot
        self.inbox: Inbox = bot.inbox
        self.clock = clock
        self.deliver_every = deliver_every
        self.publish_every_seconds = publish_every_seconds
        self.stopping = False
        self._calendar_dirty = True
        self._last_publish = 0.0

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if not self.stopping:
            log.info("stop requested (signal %s); finishing the message in hand", signum)
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("strategy-bot running on %s", self.bot.config.source)
        self.bot.service.ensure_agenda(self.clock.now())
        while not self.stopping:
            # Timers first: after a restart, everything already due fires once, marked late.
            fired = self.fire_due()
            handled = self.drain()
            self.deliver()
            self.publish_if_due()
            if not handled and not fired and not self.stopping:
                self.inbox.wait(self.wait_seconds())
        self.deliver()
        self.publish_if_due(force=True)
        log.info("strategy-bot stopped")
        return 0

    def drain(self) -> int:
        """Handle every message now in the inbox; returns how many."""
        count = 0
        for mail in self.inbox.pending():
            if self.stopping:
                break
            result = self.bot.service.handle(mail, self.clock.now())
            # The move comes only after the service committed; a crash before it means the
            # message is seen again and recognised as a duplicate.
            self.inbox.move(mail.key, result.folder)
            count += 1
            self._calendar_dirty = self._calendar_dirty or bool(result.booked)
            if count % self.deliver_every == 0:
                self.deliver()
        return count

    def fire_due(self) -> int:
        """Fire every timer now due, oldest first; returns how many fired."""
        count = 0
        for timer in self.bot.service.due_timers(self.clock.now()):
            if self.stopping:
                break
            if self.bot.service.handle_due(timer.id, self.clock.now()) is not None:
                count += 1
        return count

    def wait_seconds(self) -> float:
        """Until the next poll of the inbox, or sooner if a timer falls due first."""
        poll = self.bot.config.inbox.poll_seconds
        with self.bot.store.transaction() as tx:
            next_due = tx.next_timer_due()
        if next_due is None:
            return poll
        return max(0.0, min(poll, (next_due - self.clock.now()).total_seconds()))

    def deliver(self) -> None:
        assert self.bot.delivery is not None
        while True:
            round_ = self.bot.delivery.deliver_due(self.clock.now())
            if round_.sent + round_.retrying + round_.failed < self.bot.config.sender.batch_size:
                return

    def publish_if_due(self, force: bool = False) -> None:
        if not self._calendar_dirty:
            return
        if not force and time.monotonic() - self._last_publish < self.publish_every_seconds:
            return
        path = self.bot.publish_calendar(self.clock.now())
        self._calendar_dirty = False
        self._last_publish = time.monotonic()
        if path is not None:
            log.info("strategy calendar published to %s", path)
