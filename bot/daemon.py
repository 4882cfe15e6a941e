"""The daemon: APScheduler jobs take mail from the inbox and fire due timers, one at a time."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from itertools import islice
from types import FrameType

from bot import failpoints, stop_request
from bot.adapters.scheduler import JobScheduler
from bot.adapters.sql_lease import LeaseLost
from bot.background import Background
from bot.batch_intake import handle_batch
from bot.board.server import start_board
from bot.domain.model import wall_clock
from bot.errors import BotError
from bot.health import HEARTBEAT_EVERY_SECONDS, HEARTBEAT_KEY
from bot.leadership import Leadership
from bot.logging_setup import flush_repeats
from bot.metrics import render_metrics, write_textfile
from bot.ports import BatchMove, Clock, Inbox, Purgeable
from bot.reload import reload as reload_config
from bot.round_watch import QuietInbox, RoundWatch
from bot.storage_faults import storage_fault
from bot.throttling import ThrottleWatch
from bot.wiring import Bot, board_setup

log = logging.getLogger(__name__)

# Cases put to the closing rule per round (§5): the hourly check goes through the open cases a
# slice at a time, so a round with many open cases still reads mail and fires timers promptly.
CLOSE_SLICE = 20


class Daemon:
    """Runs until SIGTERM/SIGINT; a signal lets the message in hand finish first.

    Two jobs on one worker thread: ``inbox`` every ``inbox.poll_seconds``, and
    ``next-timer`` at the due time of the earliest pending timer in the database, re-armed
    after every round. Each round fires due timers, handles every message in the inbox,
    delivers the outbox and publishes the calendar.
    """

    def __init__(self, bot: Bot, clock: Clock, batch_size: int = 50, publish_every_seconds: float = 60.0) -> None:
        if bot.inbox is None or bot.delivery is None:
            raise ValueError("the daemon needs a bot built with its inbox and sender")
        self.bot = bot
        self.inbox: Inbox = bot.inbox
        self.clock = clock
        self.batch_size = batch_size
        self.publish_every_seconds = publish_every_seconds
        self.stopping = False
        self._stopped = threading.Event()
        self._calendar_dirty = True
        self._last_publish = 0.0
        # The .ics feed is written on a thread of its own: a long one never holds up mail or timers.
        self._feed = Background("calendar-feed", self._publish)
        self._last_metrics: float | None = None
        self._last_beat: float | None = None  # when the heartbeat was last recorded (monotonic)
        self._reload_asked = False  # SIGHUP: read the configuration again between rounds
        self._started = False
        # Held for a whole round: shutting down waits for the round in hand, and no round
        # touches the scheduler once stopping (APScheduler's shutdown holds its job store
        # lock while it waits for the worker).
        self._round = threading.Lock()
        self.jobs = JobScheduler()
        # When the inbox last answered, and whether the administrator was told it went quiet.
        self.last_contact: datetime = clock.now()
        self.silence_alerted = False
        self._last_close: datetime | None = None  # when the closing check last ran
        self._close_after: str | None = None  # the check in progress: the last case it looked at
        self._inbox_error: str | None = ""  # "" until the first round: the health row is written then
        self.rounds = RoundWatch(bot)  # a storage fault stops the daemon; a repeated failure is told
        self.quiet = QuietInbox(bot, clock.now())  # no new mail for inbox.quiet_alert_hours: told
        self.throttles = ThrottleWatch(bot)  # a server keeping a role waiting: recorded, and alerted when long
        # Instances sharing one database: the lease this one must hold to act (None on SQLite, where it is alone).
        self.leadership: Leadership | None = None
        self.lost: str | None = None  # why the lease was lost: nothing more is done, and run() returns 1

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if not self.stopping:
            log.info("stop requested (signal %s); finishing the message in hand", signum)
        self.stopping = True
        self._stopped.set()

    def lose(self, reason: str) -> None:
        """The lease is gone: stop acting at once (the fence already refuses every write of this instance)."""
        if self.lost is None:
            log.error("no longer the leader: %s; stopping, so that only the new leader acts", reason)
        self.lost = reason
        if self.leadership is not None:
            self.leadership.abandon()
        self.stopping = True
        self._stopped.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, self.hup)
        self._reload_asked = stop_request.reload_requested()  # a SIGHUP while starting: read the file again
        early = stop_request.requested()
        if early is not None:  # asked while starting: stopped before the first round, cleanly
            self.stop(early)
            log.info("strategy-bot stopped before its first round")
            return 0
        log.info("strategy-bot running on %s", self.bot.config.source)
        standby_tick = self.write_metrics_if_due  # a standby's metrics file shows who leads, too
        if self.leadership is not None and not self.leadership.wait(self._stopped, self.lose, standby_tick):
            log.info("strategy-bot stopped (it was a standby)")
            return 0
        self.jobs.start()
        board = start_board(board_setup(self.bot), self.clock, self.bot.config.board)  # [board] listen (issue 14)
        self.jobs.every("inbox", self.bot.config.inbox.poll_seconds, self.round)
        watcher = threading.Thread(target=self.watch, name="inbox-watcher", daemon=True)
        watcher.start()
        while not self._stopped.wait(timeout=1.0):
            if self._reload_asked:
                self.reload()
        with self._round:
            pass
        self.jobs.shutdown()
        board.stop()
        if self.lost is not None:
            return 1  # the supervisor starts it again, as a standby; the new leader acts alone meanwhile
        if not self.rounds.finish(self.deliver, lambda: self.publish_if_due(force=True)):
            return 1  # a storage fault: the supervisor restarts it, and `run` refuses in one line until mended
        self._feed.close()  # the last feed written before the process ends
        if self.leadership is not None:
            self.leadership.release()  # a standby takes over at once, not when the lease expires
        flush_repeats()  # a warning still held back is summed up before the last line
        log.info("strategy-bot stopped")
        return 0

    def hup(self, _signum: int | None = None, _frame: FrameType | None = None) -> None:
        self._reload_asked = True  # done by the main loop, between rounds (bot/reload.py)

    def reload(self) -> None:
        """SIGHUP: the configuration read again and what can change live applied, between two rounds."""
        self._reload_asked = False
        with self._round:
            poll = self.bot.config.inbox.poll_seconds
            reloaded = reload_config(self.bot)
            if reloaded is not None and self.bot.config.inbox.poll_seconds != poll and not self.stopping:
                self.jobs.every("inbox", self.bot.config.inbox.poll_seconds, self.round)

    def watch(self) -> None:
        """Wait on the inbox (IMAP IDLE, the Maildir's ``new/``) and start a round the moment mail comes."""
        while not self._stopped.is_set():
            try:
                woken = self.inbox.wait(1.0)
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive anything the server does
                log.warning("waiting for mail failed: %s", exc)
                self._stopped.wait(1.0)
                continue
            if woken and not self.stopping:
                self.jobs.at("wake", 0, self.round)

    def round(self) -> None:
        """One pass: timers due, then mail, then the outbox; a failure is logged and the next round runs."""
        with self._round:
            if not self.stopping:
                self._round_in_hand()

    def _round_in_hand(self) -> None:
        try:
            if not self._started:
                # After a restart, every timer already due fires once now, marked late.
                self.bot.service.ensure_agenda(self.clock.now())
                self._started = True
            self.fire_due()
            self.close_if_due()
            self.purge_if_due()
            handled = self.read_inbox()
            self.deliver()
            # The feed is rewritten whole: at once when the inbox is quiet, at most once a
            # minute while a backlog drains.
            self.publish_if_due(force=handled == 0)
            if self.throttles.watch(self.clock.now()):
                self.deliver()  # the alert goes now, not a poll later
            self.beat_if_due()
            self.write_metrics_if_due()
            if not self.stopping:
                self.arm_next_timer()
        except LeaseLost as exc:
            self.lose(str(exc))
        except Exception as exc:  # noqa: BLE001 - the daemon must outlive a database hiccup
            if self.rounds.failed(exc, self.clock.now()) is not None:  # a storage fault: stop, exit 1
                self.stopping = True
                self._stopped.set()
        else:
            self.rounds.succeeded(self.clock.now())

    def beat_if_due(self) -> None:
        """The heartbeat `health` and the metrics read: when a round last finished (at most every 30 s)."""
        if self._last_beat is not None and time.monotonic() - self._last_beat < HEARTBEAT_EVERY_SECONDS:
            return
        self._last_beat = time.monotonic()
        now = self.clock.now()
        self.bot.store.put_state(HEARTBEAT_KEY, now.isoformat(), now)

    def write_metrics_if_due(self) -> None:
        target = self.bot.config.metrics.textfile
        if target is None:
            return
        every = self.bot.config.metrics.every_seconds
        if self._last_metrics is not None and time.monotonic() - self._last_metrics < every:
            return
        self._last_metrics = time.monotonic()
        try:
            write_textfile(target, render_metrics(self.bot, self.clock.now()))
        except OSError as exc:  # figures not written must not stop the next timer being armed
            log.warning("metrics not written to %s: %s", target, exc.strerror or type(exc).__name__)

    def arm_next_timer(self) -> None:
        with self.bot.store.transaction() as tx:
            next_due = tx.next_timer_due()
        if next_due is None:
            return
        simulated = (next_due - self.clock.now()).total_seconds()
        self.jobs.at("next-timer", simulated / self.clock.speed, self.round)

    def fire_due(self) -> int:
        """Fire every timer now due, oldest first; returns how many fired."""
        count = 0
        while not self.stopping:
            due = self.bot.service.due_timers(self.clock.now())
            if not due:
                break
            for timer in due:
                if self.stopping:
                    break
                self.bot.service.handle_due(timer.id, self.clock.now())
                count += 1
        return count

    def close_if_due(self) -> None:
        """§5 Closing a case: the periodic check, at most once an hour of the clock."""
        now = self.clock.now()
        if self._close_after is None:
            if self._last_close is not None and now - self._last_close < timedelta(hours=1):
                return
            self._last_close = now
        # A slice of the open cases a round (issue 18): many open cases never hold up mail or timers.
        self._close_after = self.bot.service.close_some(now, self._close_after, CLOSE_SLICE)

    def purge_if_due(self) -> None:
        """Once a day, at the first round after ``privacy.purge_time``: the retention purge."""
        now = self.clock.now()
        privacy = self.bot.config.privacy
        local = now.astimezone(self.bot.config.bot.timezone)
        today = local.date().isoformat()
        if local.time() < privacy.purge_time or self.bot.store.get_state("purge:last") == today:
            return
        cases, emails = self.bot.service.purge(now)
        mails = 0
        if isinstance(self.inbox, Purgeable):
            mails = self.inbox.purge(now - timedelta(days=privacy.retention_days))
        if mails:
            with self.bot.store.transaction() as tx:
                tx.add_history(None, now, "bot", "purged", f"{mails} handled messages from the inbox's folders")
            log.info("purged %d handled messages older than %d days", mails, privacy.retention_days)
        self.bot.store.put_state("purge:last", today, now)

    def read_inbox(self) -> int:
        """Drain the inbox; an inbox that does not answer is logged and watched, and the round goes on.

        Timers and the outbox do not wait for the mail server: an escalation is due whether
        or not the referral inbox can be read.
        """
        now = self.clock.now()
        try:
            handled = self.drain()
        except LeaseLost:
            raise  # not the inbox's doing: the round stops here
        except BotError as exc:
            self._inbox_down(str(exc), now)
            return 0
        except Exception as exc:  # noqa: BLE001 - an adapter's surprise must not stop the outbox and timers
            if storage_fault(exc, self.bot.config.store.url) is not None:
                raise  # the disk or the database, not the inbox: the round stops the daemon
            log.debug("reading the inbox failed", exc_info=True)
            self._inbox_down(f"unexpected {type(exc).__name__} while reading the inbox", now)
            return 0
        self._inbox_up(now)
        self.quiet.heard(handled, now)
        return handled

    def _inbox_down(self, error: str, now: datetime) -> None:
        if error != self._inbox_error:
            log.warning("the referral inbox does not answer: %s", error)
            self._record_health(False, error, now)
        self._inbox_error = error
        silence = self.bot.config.inbox.silence_alert_minutes
        if self.silence_alerted or now - self.last_contact < timedelta(minutes=silence):
            return
        self.silence_alerted = True
        self.bot.service.alert_admin(
            f"inbox silent since {self.last_contact.isoformat()}",
            f"The referral inbox has not answered for {silence} minutes",
            [("Inbox", self.bot.config.inbox.kind), ("Last answer", self._local(self.last_contact)), ("Error", error)],
            "New requests are not being read, so no urgent call-back can be chased. Please check the mail server "
            "and the bot's log. Nothing is lost: the bot keeps trying and reads every waiting request when the "
            "server answers.",
            now,
        )

    def _inbox_up(self, now: datetime) -> None:
        if self._inbox_error is not None:
            if self._inbox_error:
                log.warning("the referral inbox answers again")
            self._record_health(True, None, now)
        if self.silence_alerted:
            self.bot.service.alert_admin(
                f"inbox back at {now.isoformat()}",
                "The referral inbox answers again",
                [("Inbox", self.bot.config.inbox.kind), ("Silent since", self._local(self.last_contact))],
                "The bot is reading the waiting requests now. Nothing more is needed.",
                now,
            )
            self.silence_alerted = False
        self._inbox_error = None
        self.last_contact = now

    def _local(self, moment: datetime) -> str:
        return wall_clock(moment, self.bot.config.bot.timezone)

    def _record_health(self, ok: bool, error: str | None, now: datetime) -> None:
        """What `status` shows the admin: is the inbox answering, and since when."""
        value = json.dumps({"ok": ok, "since": now.isoformat(), "error": error})
        self.bot.store.put_state("health:inbox", value, now)

    def drain(self) -> int:
        """Handle every message now in the inbox, a batch at a time; returns how many."""
        count = 0
        pending = self.inbox.pending()
        # An inbox may ask for smaller batches: IMAP commits a few messages at a time, so that
        # restarts seconds apart still make progress (issue 19).
        size = min(self.batch_size, getattr(self.inbox, "commit_every", self.batch_size))
        while not self.stopping:
            chunk = list(islice(pending, size))
            if not chunk:
                break
            failpoints.reach("after_fetch")
            self.bot.service.read_ahead(chunk)
            # The batch commits its messages with one flush to disk; one that fails has the
            # batch rolled back and handled again a message at a time (bot/batch_intake.py).
            handled = handle_batch(
                self.bot.store, self.bot.service.handle, chunk, self.clock.now, lambda: self.stopping
            )
            # The moves come only after the commit; a crash before them means the messages
            # are seen again and recognised as duplicates.
            failpoints.reach("after_commit")
            if isinstance(self.inbox, BatchMove):  # one command per folder for the whole batch (IMAP)
                self.inbox.move_many([(mail.key, result.folder) for mail, result in handled])
                failpoints.reach("after_move")
            else:
                for mail, result in handled:
                    self.inbox.move(mail.key, result.folder)
                    failpoints.reach("after_move")
            for _, result in handled:
                self._calendar_dirty = self._calendar_dirty or bool(result.booked or result.moved or result.cancelled)
            count += len(handled)
            self.deliver()
        return count

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
        self._feed.request(self.clock.now())
        self._calendar_dirty = False
        self._last_publish = time.monotonic()

    def _publish(self, stamp: datetime) -> None:
        try:
            path = self.bot.publish_calendar(stamp)
        except Exception:
            self._calendar_dirty = True  # written again after the next round
            raise
        if path is not None:
            log.info("strategy calendar published to %s", path)
