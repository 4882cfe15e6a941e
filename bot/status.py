"""What `strategy-bot status` and `strategy-bot history` print: plain text for a terminal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.delivery import sender_outage
from bot.domain.model import wall_clock
from bot.throttling import ROLES, kind_of, recorded
from bot.wiring import Bot


def _when(moment: datetime, bot: Bot) -> str:
    return wall_clock(moment, bot.config.bot.timezone)


def render_status(bot: Bot, now: datetime) -> str:
    """Open cases, upcoming bookings and pending timers with their due times. N numbers only."""
    lines: list[str] = []
    with bot.store.transaction() as tx:
        cases = tx.open_cases()
        bookings = tx.bookings_between(now, now + timedelta(days=3660))
        timers = tx.pending_timers()
        pending_mail = tx.pending_email_count()
    lines.append(f"strategy-bot status at {_when(now, bot)} ({bot.config.source})")
    if bot.config.privacy.key_env is None:
        lines.append("Personal data at rest: NOT sealed (set privacy.key_env)")
    lines.append("")
    health = bot.store.get_state("health:inbox")
    if health:
        inbox = json.loads(health)
        since = _when(datetime.fromisoformat(inbox["since"]), bot)
        state = "answering" if inbox["ok"] else f"NOT ANSWERING ({inbox['error']})"
        lines.append(f"Inbox ({bot.config.inbox.kind}): {state} since {since}")
        lines.append("")
    outage = sender_outage(bot.store)
    if outage is not None:
        since = _when(outage.since, bot)
        lines += [f"Mail server ({bot.config.sender.kind}): NOT TAKING MAIL since {since} ({outage.error})", ""]
    lines += _throttling(bot, now)
    lines.append(f"Open cases: {len(cases)}")
    for case in cases:
        numbers = ", ".join(case.details.n_numbers) or "(no N number yet)"
        lines.append(f"  {case.case_id}  {case.kind.value:<8}  {case.state.value:<20}  {numbers}")
    lines.append("")
    lines.append(f"Upcoming bookings: {len(bookings)}")
    numbers_of = {case.case_id: ", ".join(case.details.n_numbers) for case in cases}
    for booking in bookings:
        end = booking.end.astimezone(bot.config.bot.timezone)
        numbers = numbers_of.get(booking.case_id, "")
        lines.append(f"  {_when(booking.start, bot)}-{end:%H:%M}  {booking.case_id}  {numbers}")
    lines.append("")
    lines.append(f"Pending timers: {len(timers)}")
    for timer in timers:
        overdue = "  OVERDUE" if timer.due_at < now else ""
        lines.append(f"  {_when(timer.due_at, bot)}  {timer.purpose:<20}  {timer.case_id or '-'}{overdue}")
    lines.append("")
    lines.append(f"Emails waiting to be delivered: {pending_mail}")
    return "\n".join(lines) + "\n"


def _throttling(bot: Bot, now: datetime) -> list[str]:
    """Each role a mail server keeps waiting, and until when; nothing for a site without Graph or EWS."""
    if not any(kind_of(bot, role) in ("graph", "ews") for role in ROLES):
        return []
    throttled = recorded(bot.store, now)
    if not throttled:
        return ["Throttling: none", ""]
    lines = [
        f"Throttled: {role} ({kind_of(bot, role)}) waits until {_when(throttled[role], bot)}"
        for role in ROLES
        if role in throttled
    ]
    return [*lines, ""]


def render_history(bot: Bot, reference: str) -> str | None:
    """Every recorded action on the cases with this N number or case id, oldest first; None if unknown."""
    with bot.store.transaction() as tx:
        cases = tx.cases_for(reference)
        if not cases:
            return None
        lines: list[str] = []
        for case in cases:
            lines.append(
                f"{case.case_id}  {case.kind.value} request  {', '.join(case.details.n_numbers)}  ({case.state.value})"
            )
            for entry in tx.history(case.case_id):
                source = f"  [{entry.message_id}]" if entry.message_id else ""
                detail = f": {entry.detail}" if entry.detail else ""
                lines.append(f"  {_when(entry.at, bot)}  {entry.actor:<32}  {entry.action}{detail}{source}")
            lines.append("")
    return "\n".join(lines)
