"""Delivering the outbox: each queued email sent once, retried with back-off, never dropped.

Sending is at-least-once and says so: an email is marked "sending" (committed) before it is
handed to the server and "sent" right after the server took it, so a crash between the two
is the only way one goes twice, and then with the same Message-ID. A server that does not
take mail is an outage, recorded in the store under ``health:sender`` (what ``status`` and
``metrics`` read); when the server takes mail again every waiting email is due at once,
urgent purposes first, and an outage longer than ``sender.outage_alert_minutes`` is told
to the administrator.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import cast

from bot import failpoints
from bot.config import SenderConfig
from bot.domain.model import wall_clock
from bot.domain.records import QueuedEmail
from bot.errors import PermanentError, ServerUnreachable
from bot.ports import Checkable, MailSender, Store, StoreTransaction
from bot.ports.batching import sender_batch
from bot.ports.outbox_states import SendingStates

log = logging.getLogger(__name__)

# The sender's health as the delivery round last saw it: {"ok", "since", "error"}.
HEALTH_KEY = "health:sender"


def retry_delay(attempts: int, first_seconds: float, max_seconds: float) -> timedelta:
    """Exponential back-off for outbox delivery: first, 2×first, 4×first … capped."""
    return timedelta(seconds=min(max_seconds, first_seconds * (2 ** max(0, attempts - 1))))


@dataclass(frozen=True)
class DeliveryRound:
    sent: int
    retrying: int
    failed: int

    def __add__(self, other: DeliveryRound) -> DeliveryRound:
        return DeliveryRound(self.sent + other.sent, self.retrying + other.retrying, self.failed + other.failed)


@dataclass(frozen=True)
class Outage:
    """The mail server not taking mail since ``since``; ``error`` the last reason it gave."""

    since: datetime
    error: str


def sender_outage(store: Store) -> Outage | None:
    """The outage now recorded in the store, for any process (``status``, ``metrics``); None when none."""
    text = store.get_state(HEALTH_KEY)
    if not text:
        return None
    data = json.loads(text)
    if data.get("ok", True):
        return None
    return Outage(datetime.fromisoformat(data["since"]), str(data.get("error") or ""))


def outage_alert(
    alert_admin: Callable[[str, str, Sequence[tuple[str, str]], str, datetime], None], sender_kind: str, zone: tzinfo
) -> Callable[[Outage, datetime], None]:
    """What ``OutboxDelivery`` calls when a long outage ends: an ``admin_alert``, sent now the server is back."""

    def alert(outage: Outage, now: datetime) -> None:
        minutes = round((now - outage.since).total_seconds() / 60)
        alert_admin(
            f"sender outage {outage.since.isoformat()}",
            f"The mail server did not take the bot's email for {minutes} minutes",
            [
                ("Sender", sender_kind),
                ("Not taking mail since", wall_clock(outage.since, zone)),
                ("Taking mail again at", wall_clock(now, zone)),
                ("Last error", outage.error[:300]),
            ],
            "Every waiting email is being sent now, urgent ones first. Emails due during the outage went late: "
            "please check that urgent referrals and escalations sent in that time were acted on.",
            now,
        )

    return alert


def _states(tx: StoreTransaction) -> SendingStates:
    # The SQL store's transaction has the sending states (bot/ports/outbox_states.py).
    return cast(SendingStates, tx)


class OutboxDelivery:
    """Sends what the service queued. A mail is marked sent only after the sender accepted it."""

    def __init__(
        self,
        store: Store,
        sender: MailSender,
        from_address: str,
        cfg: SenderConfig,
        group_commit: bool = False,
        on_refused: Callable[[QueuedEmail, str, datetime], None] | None = None,
        on_outage_over: Callable[[Outage, datetime], None] | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.from_address = from_address
        self.cfg = cfg
        # Told of every email refused for good, so that a person hears of it.
        self.on_refused = on_refused
        # Told when an outage longer than ``cfg.outage_alert_minutes`` ends (the alert is an email).
        self.on_outage_over = on_outage_over
        # Only for a sender that recognises a resend by its Message-ID: a crash before the
        # round commits sends the whole round again.
        self.group_commit = group_commit
        self._outage: Outage | None = None
        self._outage_read = False
        self._ended: Outage | None = None  # an outage that ended this round, until recorded
        self._changed = False  # the outage started, changed or ended this round
        # Emails may be waiting out a back-off (at start, or since a failure): the next
        # success makes them due.
        self._maybe_waiting = True
        self._last_probe: datetime | None = None  # when the server was last probed during an outage
        self._unreachable = False  # the last failure was the server itself not answering
        self._probe_every: float | None = None  # seconds between probes, longer when a probe is slow

    def deliver_due(self, now: datetime) -> DeliveryRound:
        """Every queued email that is due, ``sender.batch_size`` at a time, until a round frees no more."""
        total = DeliveryRound(0, 0, 0)
        while True:
            done, again = self._round(now)
            total += done
            if not again:
                return total

    def _round(self, now: datetime) -> tuple[DeliveryRound, bool]:
        with self.store.transaction() as tx:
            due = tx.due_emails(now, self.cfg.batch_size)
            if due and self.cfg.rate_per_minute:
                # The server's own limit (Exchange Online: 30 a minute) is kept on our side, so
                # nothing is refused for speed; the rest wait for the next round.
                room = max(0, self.cfg.rate_per_minute - tx.sent_since(now - timedelta(seconds=60)))
                if room < len(due):
                    log.info("send rate limit: %d of %d due emails sent this round", room, len(due))
                due = due[:room]
        if not due:
            return DeliveryRound(0, 0, 0), self._probe(now)
        self.outage()  # read once, before any batch: the health row is adapter state, apart from it
        if self.group_commit:
            # The sender's batch ends (its files made durable) before the store's commits "sent".
            with self.store.batch(), sender_batch(self.sender):
                done, again = self._deliver(due, now)
        else:
            done, again = self._deliver(due, now)
        # Outside the batch: the health row is the store's adapter state, written on its own.
        return done, self._health_changed(now) or again

    def _deliver(self, due: list[QueuedEmail], now: datetime) -> tuple[DeliveryRound, bool]:
        """Send ``due`` in order; True as well when the server came back and freed emails that waited."""
        sent = retrying = failed = 0
        again = False
        taken: list[QueuedEmail] = []  # sent, not yet recorded: in a group commit, recorded together
        for index, queued in enumerate(due):
            attempts = queued.attempts + 1
            if queued.resend:
                log.warning(
                    "email %s (%s) was being sent when the bot stopped; sending it again with the same Message-ID",
                    queued.message_id,
                    queued.purpose,
                )
            if not self.group_commit:  # (in a group commit it would be committed with "sent": no use)
                with self.store.transaction() as tx:
                    _states(tx).mark_sending(queued.id, now)
            try:
                self.sender.send(queued.message_id, queued.raw, self.from_address, queued.recipients)
                failpoints.reach("after_send")
            except PermanentError as exc:
                self._record_sent(taken, now)  # (recorded first: the history keeps the order of sending)
                failed += 1
                log.error("email %s (%s) refused for good: %s", queued.message_id, queued.purpose, exc)
                with self.store.transaction() as tx:
                    tx.mark_failed(queued.id, attempts, str(exc)[:500])
                    tx.add_history(
                        queued.case_id, now, "bot", "email_failed", f"{queued.purpose}: {exc}"[:500], queued.message_id
                    )
                if self.on_refused is not None:
                    self.on_refused(queued, str(exc), now)
                continue
            except ServerUnreachable as exc:
                self._record_sent(taken, now)
                # The server takes no mail at all: the rest of the round waits with this one
                # rather than each trying (and timing out) in turn.
                waiting = due[index:]
                retrying += len(waiting)
                retry_at = now + retry_delay(attempts, self.cfg.retry_first_seconds, self.cfg.retry_max_seconds)
                # Worded the same each time, so that a log of an outage folds it (bot/logging_setup.py);
                # what changes from try to try is for --verbose.
                log.warning("emails not delivered, retried within %g s: %s", self.cfg.retry_max_seconds, exc)
                log.debug("%d email(s) waiting, the next try at %s", len(waiting), retry_at.isoformat())
                with self.store.transaction() as tx:
                    tx.mark_retry(queued.id, attempts, retry_at, str(exc)[:500])
                    for other in waiting[1:]:
                        tx.mark_retry(other.id, other.attempts, retry_at, str(exc)[:500])
                self._down(str(exc), now)
                self._unreachable = True
                break
            except Exception as exc:  # noqa: BLE001 - TransientError, or an adapter's surprise: retried, never fatal
                self._record_sent(taken, now)
                retrying += 1
                retry_at = now + retry_delay(attempts, self.cfg.retry_first_seconds, self.cfg.retry_max_seconds)
                log.warning(
                    "email %s (%s) not delivered, retried within %g s: %s",
                    queued.message_id,
                    queued.purpose,
                    self.cfg.retry_max_seconds,
                    exc,
                )
                log.debug("email %s: the next try at %s", queued.message_id, retry_at.isoformat())
                with self.store.transaction() as tx:
                    tx.mark_retry(queued.id, attempts, retry_at, str(exc)[:500])
                self._down(str(exc), now)
                self._unreachable = False
                continue
            sent += 1
            taken.append(queued)
            if not self.group_commit:  # "sent" right after the server took it: the resend window is one email
                self._record_sent(taken, now)
            again = self._up(now) or again
        self._record_sent(taken, now)
        return DeliveryRound(sent, retrying, failed), again

    def _record_sent(self, taken: list[QueuedEmail], now: datetime) -> None:
        """Mark ``taken`` sent, with their history, in one unit of work; then empty it.

        In a group commit that unit is in the round's batch: durable after the sender's batch is.
        """
        if not taken:
            return
        with self.store.transaction() as tx:
            for queued in taken:
                tx.mark_sent(queued.id, now)
                recipients = ", ".join(queued.recipients)
                tx.add_history(
                    queued.case_id, now, "bot", "email_sent", f"{queued.purpose} to {recipients}", queued.message_id
                )
        for queued in taken:
            log.info("email %s (%s) delivered", queued.message_id, queued.purpose)
        taken.clear()

    # -- the sender's health -------------------------------------------------------------------

    def outage(self) -> Outage | None:
        """The outage in progress, as recorded in the store (it outlives a restart)."""
        if not self._outage_read:
            self._outage = sender_outage(self.store)
            self._outage_read = True
        return self._outage

    def _probe(self, now: datetime) -> bool:
        """An outage, and every email waiting out its back-off: is the server back? True if that freed emails.

        Every ``sender.probe_seconds`` the sender's own check (SMTP: connect, log in, NOOP;
        nothing is sent); a server that answers makes every waiting email due at once.
        """
        every = self.cfg.probe_seconds
        if not every or not self._unreachable or self.outage() is None or not isinstance(self.sender, Checkable):
            return False  # (a server that answers but refuses, 4xx, is left to the back-off)
        if self._last_probe is not None and now - self._last_probe < timedelta(seconds=self._probe_every or every):
            return False
        self._last_probe = now
        started = time.monotonic()
        problems = self.sender.check()
        # A probe that waits out a network timeout (a server that drops packets) holds the round:
        # such probes are spaced out, up to the back-off's cap, so mail and timers keep moving.
        took = time.monotonic() - started
        self._probe_every = every if took < every / 4 else min(max(every, 4 * took), self.cfg.retry_max_seconds)
        if problems:
            return False
        with self.store.transaction() as tx:
            released = _states(tx).release_waiting(now)
        log.info("the mail server answers again: %d waiting email(s) released", released)
        return released > 0

    def _down(self, error: str, now: datetime) -> None:
        self._maybe_waiting = True
        outage = self.outage()
        if outage is None:
            log.warning("the mail server does not take mail: %s; emails wait and are retried", error)
        elif outage.error == error:
            return
        self._outage = Outage(outage.since if outage else now, error)
        self._changed = True

    def _up(self, now: datetime) -> bool:
        """The server took an email: every email waiting out a back-off is due now (True if any)."""
        if self.outage() is not None:
            self._ended, self._outage = self._outage, None
            self._changed = True
        if not self._maybe_waiting:
            return False
        self._maybe_waiting = False
        with self.store.transaction() as tx:
            released = _states(tx).release_waiting(now)
        if released:
            log.info("%d waiting email(s) released now that the mail server takes mail", released)
        return released > 0

    def _health_changed(self, now: datetime) -> bool:
        """Record the outage's start or end; True when an alert was queued (it goes this round)."""
        if not self._changed:
            return False
        self._changed = False
        outage, ended, self._ended = self._outage, self._ended, None
        if outage is not None:
            value = {"ok": False, "since": outage.since.isoformat(), "error": outage.error}
        else:
            value = {"ok": True, "since": now.isoformat(), "error": None}
        self.store.put_state(HEALTH_KEY, json.dumps(value), now)
        if ended is None:
            return False
        minutes = (now - ended.since).total_seconds() / 60
        log.warning("the mail server takes mail again after %.1f minutes", minutes)
        if self.on_outage_over is None or minutes < self.cfg.outage_alert_minutes:
            return False
        self.on_outage_over(ended, now)
        return True
