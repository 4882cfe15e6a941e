"""The service's front door: a message in, a timer due, each in one transaction; ``now`` always passed in."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from bot.config.schema import Config
from bot.domain.deadlines import next_agenda
from bot.domain.records import QueuedEmail, TimerRow
from bot.domain.working_days import WorkingDays
from bot.errors import StopActing, StorageError
from bot.mail.reading import TooSlow
from bot.mail.rendering import MailRenderer
from bot.ports import IncomingMail, MessageReader, Store, StrategyCalendar
from bot.ports.batching import BatchSpoiled
from bot.service import alerts, closing
from bot.service.alerts import error_for_admin
from bot.service.handled import Handled
from bot.service.intake import Intake, Quarantine
from bot.service.setup import Setup
from bot.service.timers import agenda_key, fire, fired_result, note_fired
from bot.service.unit import Unit
from bot.service.weekly_report import ensure_report

log = logging.getLogger("bot.service")


class StrategyService:
    """The use cases of domain.md §1–§6 over the ports."""

    def __init__(
        self,
        config: Config,
        store: Store,
        calendar: StrategyCalendar,
        renderer: MailRenderer,
        reader: MessageReader,
        days: WorkingDays | None = None,
    ) -> None:
        self.setup = Setup(config, store, calendar, renderer, days or WorkingDays.from_schedule(config.schedule))
        self.config = config
        self.store = store
        self.reader = reader

    # -- a message in ----------------------------------------------------------------------

    def read_ahead(self, batch: list[IncomingMail]) -> None:
        """Start the time-limited reading of a batch (``inbox.parse_seconds``) ahead of its handling."""
        self.reader.read_ahead([mail.raw for mail in batch if not mail.oversized])

    def handle(self, mail: IncomingMail, now: datetime) -> Handled:
        """Handle one message in one transaction; any failure quarantines it and tells the admin."""
        content_hash = hashlib.sha256(mail.raw).hexdigest()
        message_id = f"<sha256-{content_hash[:32]}@no-message-id>"
        # Read once, under the time limit: a message that does not read in time is quarantined
        # unread (by its content hash; a second delivery is recognised by it). An oversized
        # message is its headers only, read for its Message-ID.
        try:
            reading = self.reader.read(mail.raw)
        except Exception as exc:  # noqa: BLE001 - a message that cannot be read is quarantined, never fatal
            log.error("message could not be read: %s; quarantined", type(exc).__name__)
            reason = f"the bot could not handle it ({error_for_admin(exc)})"
            return alerts.quarantine(self.setup, mail, message_id, content_hash, now, reason)
        if isinstance(reading, TooSlow):
            return alerts.quarantine(self.setup, mail, message_id, content_hash, now, reading.reason)
        message_id = reading.message_id or message_id
        refused: str | None = None
        try:
            with self.store.transaction() as tx:
                seen = tx.seen_message(message_id, content_hash)
                if seen is not None:
                    log.info("message already handled (%s); not acted on again", seen.outcome)
                    return Handled(message_id, seen.kind, seen.outcome, seen.case_id, seen.reason, duplicate=True)
                # Refused unread: quarantined after this unit, which wrote nothing (a unit that
                # raises inside a store batch spoils the whole batch).
                limit = self.config.inbox.max_message_bytes
                if mail.oversized:
                    refused = f"message larger than inbox.max_message_bytes ({limit} bytes)"
                elif reading.too_complex:
                    refused = f"message not read: {reading.too_complex}"
                else:
                    unit = Unit(self.setup, tx, now, Handled(message_id, "unrecognised", "processed"), message_id)
                    result = Intake(unit, reading, mail, message_id).run()
                    unit.record_compliance()
                    tx.record_message(
                        message_id,
                        content_hash,
                        mail.received_at,
                        now,
                        result.kind,
                        result.outcome,
                        result.reason,
                        result.case_id,
                    )
            if refused is not None:
                return alerts.quarantine(self.setup, mail, message_id, content_hash, now, refused)
        except Quarantine as exc:
            return alerts.quarantine(self.setup, mail, message_id, content_hash, now, str(exc), exc.case_id)
        except (StorageError, StopActing):
            raise  # the disk or the database, or another leads now: nothing is quarantined, the daemon stops
        except BatchSpoiled:
            raise  # it failed inside a store batch: the daemon rolls the batch back and handles it alone
        except Exception as exc:  # noqa: BLE001 - one bad message must never stop the daemon
            # The exception's text may quote the message: only its type goes in the log, and
            # in the history and the notice only what our own errors say.
            log.error("message could not be handled: %s; quarantined", type(exc).__name__)
            log.debug("handling failed", exc_info=True)
            reason = f"the bot could not handle it ({error_for_admin(exc)})"
            return alerts.quarantine(self.setup, mail, message_id, content_hash, now, reason)
        log.info(
            "message handled: kind=%s outcome=%s case=%s emails=%d",
            result.kind,
            result.outcome,
            result.case_id or "-",
            len(result.emails),
        )
        return result

    # -- timers ------------------------------------------------------------------------------

    def ensure_agenda(self, now: datetime) -> None:
        """Keep one daily agenda timer pending: the next meeting day at 09:00 (§5)."""
        setup = self.setup
        due = next_agenda(now, self.config.schedule, self.config.timers, setup.days, setup.tz)
        with self.store.transaction() as tx:
            tx.add_timer(agenda_key(due.date()), None, "daily_agenda", due)
            # The weekly compliance report (issue 14) is kept pending the same way.
            ensure_report(setup, tx, now)

    def due_timers(self, now: datetime) -> list[TimerRow]:
        with self.store.transaction() as tx:
            return tx.due_timers(now)

    def handle_due(self, timer_id: int, now: datetime) -> Handled | None:
        """Fire one due timer in one transaction, exactly once; late when past its time (issue 3 §1)."""
        try:
            with self.store.transaction() as tx:
                timer = tx.timer(timer_id)
                if timer is None or timer.status != "pending":
                    return None
                late = (now - timer.due_at).total_seconds() > self.config.timers.late_after_seconds
                tx.mark_timer_fired(timer.id, now, late)
                result = fired_result(timer, late)
                unit = Unit(self.setup, tx, now, result)
                sent = fire(unit, timer)
                note_fired(unit, timer, sent, late)
                unit.record_compliance()
        except (StorageError, StopActing):
            raise  # not the timer's fault: it stays pending and fires after the repair, or on the new leader
        except Exception as exc:  # noqa: BLE001 - a timer that cannot fire must not stop the others
            log.error("timer %d could not fire: %s", timer_id, type(exc).__name__)
            log.debug("timer failed", exc_info=True)
            alerts.timer_failed(self.setup, timer_id, error_for_admin(exc), now)
            return None
        if timer.purpose == "daily_agenda":
            self.ensure_agenda(now if now > timer.due_at else timer.due_at)
        log.info(
            "timer %s for case %s fired%s: %d email(s)",
            timer.purpose,
            timer.case_id or "-",
            " late" if late else "",
            len(result.emails),
        )
        return result

    # -- the administrator -------------------------------------------------------------------

    def alert_admin(
        self, key: str, headline: str, details: Sequence[tuple[str, str]], action: str, now: datetime
    ) -> None:
        alerts.alert_admin(self.setup, key, headline, details, action, now)

    def email_refused(self, queued: QueuedEmail, reason: str, now: datetime) -> None:
        alerts.email_refused(self.setup, queued, reason, now)

    def purge(self, now: datetime) -> tuple[int, int]:
        return alerts.purge(self.setup, now)

    def close_finished(self, now: datetime) -> list[tuple[str, str]]:
        """§5 Closing a case: the periodic check; (case id, reason) of each case closed."""
        return closing.close_finished(self.setup, now)

    def close_some(self, now: datetime, after: str | None, limit: int) -> str | None:
        """One slice of the periodic check, after case ``after``; the last case checked, None at the end."""
        _, last = closing.close_some(self.setup, now, after, limit)
        return last
