"""Delivering the outbox: each queued email sent once, retried with back-off, never dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import failpoints
from bot.config import SenderConfig
from bot.domain.records import QueuedEmail
from bot.errors import PermanentError
from bot.ports import MailSender, Store

log = logging.getLogger(__name__)


def retry_delay(attempts: int, first_seconds: float, max_seconds: float) -> timedelta:
    """Exponential back-off for outbox delivery: first, 2×first, 4×first … capped."""
    return timedelta(seconds=min(max_seconds, first_seconds * (2 ** max(0, attempts - 1))))


@dataclass(frozen=True)
class DeliveryRound:
    sent: int
    retrying: int
    failed: int


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
    ) -> None:
        self.store = store
        self.sender = sender
        self.from_address = from_address
        self.cfg = cfg
        # Told of every email refused for good, so that a person hears of it.
        self.on_refused = on_refused
        # Only for a sender that recognises a resend by its Message-ID: a crash before the
        # round commits sends the whole round again.
        self.group_commit = group_commit

    def deliver_due(self, now: datetime) -> DeliveryRound:
        """One round: every queued email that is due, up to ``sender.batch_size``."""
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
            return DeliveryRound(0, 0, 0)
        if self.group_commit:
            with self.store.batch():
                return self._deliver(due, now)
        return self._deliver(due, now)

    def _deliver(self, due: list[QueuedEmail], now: datetime) -> DeliveryRound:
        sent = retrying = failed = 0
        for queued in due:
            attempts = queued.attempts + 1
            try:
                self.sender.send(queued.message_id, queued.raw, self.from_address, queued.recipients)
                failpoints.reach("after_send")
            except PermanentError as exc:
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
            except Exception as exc:  # noqa: BLE001 - TransientError, or an adapter's surprise: retried, never fatal
                retrying += 1
                retry_at = now + retry_delay(attempts, self.cfg.retry_first_seconds, self.cfg.retry_max_seconds)
                log.warning(
                    "email %s (%s) not delivered, retry at %s: %s",
                    queued.message_id,
                    queued.purpose,
                    retry_at.isoformat(),
                    exc,
                )
                with self.store.transaction() as tx:
                    tx.mark_retry(queued.id, attempts, retry_at, str(exc)[:500])
                continue
            sent += 1
            with self.store.transaction() as tx:
                tx.mark_sent(queued.id, now)
                recipients = ", ".join(queued.recipients)
                tx.add_history(
                    queued.case_id, now, "bot", "email_sent", f"{queued.purpose} to {recipients}", queued.message_id
                )
            log.info("email %s (%s) delivered", queued.message_id, queued.purpose)
        return DeliveryRound(sent, retrying, failed)
