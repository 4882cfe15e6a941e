"""The administrator's side: quarantined mail, the bot's own trouble, refused mail, failed timers, the purge."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from jinja2 import TemplateError

from bot.domain.model import wall_clock
from bot.domain.purposes import Purpose
from bot.domain.records import QueuedEmail
from bot.errors import BotError, StopActing
from bot.ports import IncomingMail, StoreTransaction
from bot.service.handled import Handled
from bot.service.outbox import compose, keyed_message_id
from bot.service.setup import Setup

log = logging.getLogger("bot.service")


def one_line(text: str) -> str:
    return " ".join(text.split())


def error_for_admin(exc: Exception) -> str:
    """What went wrong, for the administrator's alert: our own errors and template errors are
    written to be read (they name a key, a template and line, a server); any other exception's
    text may quote mail, so only its class is given."""
    if isinstance(exc, (BotError, TemplateError)):
        return one_line(f"{type(exc).__name__}: {exc}")[:300]
    return type(exc).__name__


def alert(
    setup: Setup,
    tx: StoreTransaction,
    key: str,
    headline: str,
    details: Sequence[tuple[str, str]],
    action: str,
    now: datetime,
) -> None:
    """An ``admin_alert`` in the caller's transaction; the same ``key`` queued twice is one email."""
    if tx.email_queued(keyed_message_id(setup, Purpose.ADMIN_ALERT, key)):
        return
    context = {"headline": headline, "details": list(details), "action": action}
    compose(setup, tx, Purpose.ADMIN_ALERT, None, (setup.config.people.administrator,), (), context, now, key=key)
    tx.add_history(None, now, "bot", "admin_alerted", headline[:200])
    log.warning("administrator alerted: %s", headline)


def alert_admin(
    setup: Setup, key: str, headline: str, details: Sequence[tuple[str, str]], action: str, now: datetime
) -> None:
    """An ``admin_alert`` to the administrator: the bot's own trouble (mail server silent, mail refused).

    ``key`` makes the Message-ID, so the same alert queued twice is one email; it and the
    details carry ids and server names only, never personal data.
    """
    with setup.store.transaction() as tx:
        alert(setup, tx, key, headline, details, action, now)


def quarantine(
    setup: Setup,
    mail: IncomingMail,
    message_id: str,
    content_hash: str,
    now: datetime,
    reason: str,
    case_id: str | None = None,
) -> Handled:
    """§7: the message to Quarantine, recorded, and the administrator told (within the hourly cap)."""
    config = setup.config
    result = Handled(message_id, "unrecognised", "quarantine", case_id, reason=reason)
    with setup.store.transaction() as tx:
        seen = tx.seen_message(message_id, content_hash)
        if seen is not None:
            return Handled(message_id, seen.kind, seen.outcome, seen.case_id, seen.reason, duplicate=True)
        context = {
            "reason": reason,
            "message_id": message_id,
            "received_at": mail.received_at.astimezone(setup.tz),
            "folder": config.inbox.quarantine_folder,
        }
        notices = tx.count_recent_emails((Purpose.QUARANTINE_NOTICE,), now - timedelta(hours=1))
        limit = config.trust.max_quarantine_notices_per_hour
        if notices < limit:
            to = (config.people.administrator,)
            key = message_id
            if tx.email_queued(keyed_message_id(setup, Purpose.QUARANTINE_NOTICE, key)):
                # Released by an administrator and quarantined again: a notice of its own.
                key = f"{message_id} again at {now.isoformat()}"
            out = compose(setup, tx, Purpose.QUARANTINE_NOTICE, None, to, (), context, now, key=key)
            result.emails.append(out)
        else:
            # A flood of bad mail: one alert stands for the rest of the hour's notices.
            alert(
                setup,
                tx,
                f"quarantine flood {now.astimezone(setup.tz):%Y-%m-%d %H}",
                "Many messages are being quarantined: notices held back for this hour",
                [
                    ("Notices this hour", str(notices)),
                    ("Limit", f"{limit} (trust.max_quarantine_notices_per_hour)"),
                    ("Folder", config.inbox.quarantine_folder),
                ],
                "Every message is still in the Quarantine folder: please look there, and at where the mail comes from.",
                now,
            )
        tx.record_message(message_id, content_hash, mail.received_at, now, result.kind, "quarantine", reason, case_id)
        tx.add_history(case_id, now, "bot", "quarantined", reason, message_id)
    log.warning("message quarantined: %s", reason.split(":", 1)[0])
    return result


def email_refused(setup: Setup, queued: QueuedEmail, reason: str, now: datetime) -> None:
    """A mail server refused one of our emails for good: the administrator hears which and why."""
    if queued.purpose == Purpose.ADMIN_ALERT:
        return  # the administrator's own address refused: an alert about it would loop
    alert_admin(
        setup,
        f"refused {queued.message_id}",
        f"An email from the bot was refused by the mail server: {queued.purpose}",
        [
            ("Case", queued.case_id or "none"),
            ("Email", queued.purpose),
            ("Message-ID", queued.message_id),
            ("Reason", one_line(reason)[:300]),
        ],
        "It will not be retried. Please check the recipients and send the case's news by hand if it matters.",
        now,
    )


def timer_failed(setup: Setup, timer_id: int, error: str, now: datetime) -> None:
    """A timer that raised is marked failed, kept in the case's history, and the admin is told.

    A failed escalation or reminder means a person must do by hand what the bot did not,
    so a log line alone is not enough. If the store itself is what failed, the alert
    cannot be queued either; the log line is then all there is.
    """
    try:
        with setup.store.transaction() as tx:
            tx.fail_timer(timer_id, now, error)
            timer = tx.timer(timer_id)
            case_id = timer.case_id if timer else None
            tx.add_history(case_id, now, "bot", "timer_failed", f"timer {timer_id}: {error}")
        purpose = timer.purpose if timer else "unknown"
        due = wall_clock(timer.due_at, setup.tz) if timer else "unknown"
        alert_admin(
            setup,
            f"timer failed {timer_id}",
            f"A timer could not fire: {purpose}",
            [("Case", case_id or "none"), ("Timer", purpose), ("Due", due), ("Error", error)],
            "Nothing was sent for it and it will not be tried again. Please do by hand what it stands for. "
            + (f"`strategy-bot history {case_id}` shows the case; " if case_id else "")
            + "the bot's log shows the error.",
            now,
        )
    except StopActing:
        raise  # another leads now: this instance records nothing more
    except Exception as exc:  # noqa: BLE001 - the loop goes on; the error is already logged
        log.error("timer %d: could not record the failure: %s", timer_id, type(exc).__name__)


def purge(setup: Setup, now: datetime) -> tuple[int, int]:
    """Issue 6: personal details of cases finished ``privacy.retention_days`` ago, and old emails, removed.

    The purge is recorded in each case's history and in the log by case id and count only;
    what was purged is gone. Returns (cases, emails) purged.
    """
    before = now - timedelta(days=setup.config.privacy.retention_days)
    with setup.store.transaction() as tx:
        case_ids = tx.purgeable_cases(before)
        for case_id in case_ids:
            tx.purge_case(case_id, now)
            tx.add_history(case_id, now, "bot", "purged", "personal details and stored emails removed")
        emails = tx.purge_old_emails(before)
        if case_ids or emails:
            tx.add_history(None, now, "bot", "purged", f"{len(case_ids)} cases, {emails} stored emails")
    if case_ids or emails:
        log.info("purged personal details of %d cases and %d stored emails", len(case_ids), emails)
    return len(case_ids), emails
