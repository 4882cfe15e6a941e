"""Nothing silent in the daemon's rounds: a storage fault stops it, a repeated failure is told, a quiet inbox too.

- A **storage fault** (a full disk, a read-only or corrupt database, a folder the bot may not
  write) does not mend by retrying: the round says it in one line naming the path and the
  daemon stops with a non-zero exit, so that its supervisor restarts it and the operator sees it.
- Any other failure that repeats ``FAILED_ROUNDS_ALERT`` rounds in a row for the same reason
  is logged at ERROR and emails the administrator once; the second route, when the email
  cannot go, is the log, the ``health:rounds`` row that `strategy-bot health` reads (down)
  and the metrics. A round that succeeds again says so.
- ``QuietInbox``: no new mail for ``inbox.quiet_alert_hours`` of working time (a Maildir
  nobody delivers to, a watched folder that is not the one mail arrives in) and the
  administrator is emailed, once until mail comes again.

Lines and alerts name exception types, paths and servers only: never a message's content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.deadlines import add_working_time
from bot.domain.model import wall_clock
from bot.health import ROUNDS_KEY
from bot.os_words import os_error_words
from bot.storage_faults import storage_fault

if TYPE_CHECKING:
    from bot.wiring import Bot

log = logging.getLogger("bot.daemon")

# A round failing this many times in a row for the same reason alerts the administrator.
FAILED_ROUNDS_ALERT = 5


def reason_of(exc: BaseException) -> str:
    """Why a round failed, without personal data: the type, and an OS error's words and path."""
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {os_error_words(exc)}"
    return type(exc).__name__


class RoundWatch:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.fault: str | None = None  # the storage fault that stopped the daemon
        self.reason: str | None = None  # the failure repeating now
        self.count = 0
        self.since: datetime | None = None
        self.alerted = False

    def failed(self, exc: BaseException, now: datetime) -> str | None:
        """Count a failed round; returns the one line of a storage fault, on which the daemon stops."""
        log.debug("round failed", exc_info=exc)
        fault = storage_fault(exc, self.bot.config.store.url)
        if fault is not None:
            self.fault = fault
            log.error("storage fault: %s; the bot stops (exit 1) for its supervisor to restart it", fault)
            return fault
        reason = reason_of(exc)
        if reason != self.reason:
            self.reason, self.count, self.since, self.alerted = reason, 0, now, False
            log.error("round failed: %s; retrying on the next poll", reason)
        self.count += 1
        if self.count >= FAILED_ROUNDS_ALERT and not self.alerted:
            self.alerted = True
            log.error("round failed %d times in a row: %s; the administrator is told", self.count, reason)
            self._record(False, now)
            self._alert(
                f"rounds failing since {self.since.isoformat() if self.since else now.isoformat()}",
                f"The bot's rounds have failed {self.count} times in a row",
                "Timers, mail or the calendar are not being handled while this lasts. Please read the bot's log "
                "(journalctl -u strategy-bot) and docs/operations.md; the bot keeps trying every poll.",
                now,
            )
        return None

    def finish(self, *steps: Callable[[], object]) -> bool:
        """At a stop, the last delivery and feed; False (exit 1) after a storage fault, before them or in them.

        A stop asked for is a stop: a failure in the last steps is one line, never a traceback.
        """
        if self.fault is None:
            try:
                for step in steps:
                    step()
            except Exception as exc:  # noqa: BLE001 - whatever the last delivery meets
                log.debug("the last delivery before stopping failed", exc_info=exc)
                self.fault = storage_fault(exc, self.bot.config.store.url)
                if self.fault is None:
                    log.error("the last delivery before stopping failed: %s; it goes at the next start", reason_of(exc))
        if self.fault is not None:
            log.error("strategy-bot stopped on a storage fault: %s", self.fault)
        return self.fault is None

    def succeeded(self, now: datetime) -> None:
        if self.reason is None:
            return
        if self.alerted:
            log.warning("rounds succeed again after %d failures (%s)", self.count, self.reason)
            self._record(True, now)
            self._alert(
                f"rounds back at {now.isoformat()}",
                "The bot's rounds succeed again",
                "Nothing more is needed; what waited is being handled now.",
                now,
            )
        self.reason, self.count, self.since, self.alerted = None, 0, None, False

    def _record(self, ok: bool, now: datetime) -> None:
        value = {"ok": ok, "since": (self.since or now).isoformat(), "error": self.reason, "count": self.count}
        try:
            self.bot.store.put_state(ROUNDS_KEY, json.dumps(value), now)
        except Exception as exc:  # noqa: BLE001 - the log line above is the route left
            log.error("the rounds' health could not be recorded: %s", reason_of(exc))

    def _alert(self, key: str, headline: str, action: str, now: datetime) -> None:
        details = [("Failure", self.reason or ""), ("Rounds", str(self.count))]
        if self.since is not None:
            details.append(("Since", wall_clock(self.since, self.bot.config.bot.timezone)))
        try:
            self.bot.service.alert_admin(key, headline, details, action, now)
            if self.bot.delivery is not None:
                self.bot.delivery.deliver_due(now)
        except Exception as exc:  # noqa: BLE001 - the sender itself may be what is down
            log.error(
                "the administrator could not be emailed (%s): see `strategy-bot health` and the metrics",
                reason_of(exc),
            )


class QuietInbox:
    """No new mail for ``inbox.quiet_alert_hours`` of working time: the administrator is told, once."""

    def __init__(self, bot: Bot, now: datetime) -> None:
        self.bot = bot
        self.last_mail = now
        self.alerted = False

    def heard(self, handled: int, now: datetime) -> None:
        """After each read of the inbox: ``handled`` messages were taken from it."""
        if handled:
            if self.alerted:
                log.warning("mail arrives in the referral inbox again")
            self.last_mail, self.alerted = now, False
            return
        hours = self.bot.config.inbox.quiet_alert_hours
        if self.alerted or not hours:
            return
        # The rules' own calendar, read each time: a SIGHUP that changes the rota changes it here too.
        days = self.bot.service.setup.days
        timers, tz = self.bot.config.timers, self.bot.config.bot.timezone
        due = add_working_time(self.last_mail, hours, timers.working_day_start, timers.working_day_end, days, tz)
        local = now.astimezone(tz)
        working = (
            days.is_working_day(local.date()) and timers.working_day_start <= local.time() < timers.working_day_end
        )
        if now < due or not working:  # said in working hours, when someone can act on it
            return
        self.alerted = True
        inbox = self.bot.config.inbox
        where = str(inbox.path) if inbox.kind == "maildir" else f"{inbox.kind}, folder {inbox.folder}"
        log.error("no new mail in the referral inbox (%s) for %g working hours", where, hours)
        self.bot.service.alert_admin(
            f"inbox quiet since {self.last_mail.isoformat()}",
            f"No new mail in the referral inbox for {hours:g} working hours",
            [("Inbox", where), ("Last mail", wall_clock(self.last_mail, tz))],
            "Requests may be going somewhere the bot does not read: check that mail is delivered to this inbox "
            "(inbox.path or inbox.folder) and that the mail server is forwarding it. Nothing more is sent until "
            "mail arrives again.",
            now,
        )
