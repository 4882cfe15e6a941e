"""What `strategy-bot status` and `strategy-bot history` print: plain text for a terminal, or JSON.

`status` reads the store in a fixed number of queries (``sql_overview``): counts, and the
next ``limit`` items of each list, whatever the size of the store. N numbers and case ids
only, never names. The JSON forms (``--json``) are a documented contract: fields are only
ever added.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.adapters.sql_overview import Overview, overview
from bot.delivery import sender_outage
from bot.domain.model import wall_clock
from bot.domain.records import HistoryEntry
from bot.lease_status import describe, instances
from bot.store_opening import View  # the configuration and the store: nothing else is built or imported
from bot.throttling import ROLES, recorded

__all__ = ["View", "history_json", "render_history", "render_status", "status_json"]

DEFAULT_LIMIT = 20  # items listed per section unless --limit or --all says otherwise


def _when(moment: datetime, bot: View) -> str:
    return wall_clock(moment, bot.config.bot.timezone)


def _iso(moment: datetime | None, bot: View) -> str | None:
    return moment.astimezone(bot.config.bot.timezone).isoformat() if moment is not None else None


def _overview(bot: View, now: datetime, limit: int | None) -> Overview:
    with bot.store.connection() as conn:  # type: ignore[attr-defined]
        return overview(conn, now, limit)


def _inbox_health(bot: View) -> dict[str, Any] | None:
    health = bot.store.get_state("health:inbox")
    return json.loads(health) if health else None


def _shown(shown: int, total: int, what: str) -> str:
    return f"  ... {total - shown} more {what} (--all lists every one)" if shown < total else ""


def render_status(bot: View, now: datetime, limit: int | None = DEFAULT_LIMIT) -> str:
    """Counts, then the next ``limit`` open cases, bookings and timers (``None``: all). N numbers only."""
    view = _overview(bot, now, limit)
    lines: list[str] = [f"strategy-bot status at {_when(now, bot)} ({bot.config.source})"]
    if bot.config.privacy.key_env is None:
        lines.append("Personal data at rest: NOT sealed (set privacy.key_env)")
    lines.append("")
    inbox = _inbox_health(bot)
    if inbox:
        since = _when(datetime.fromisoformat(inbox["since"]), bot)
        state = "answering" if inbox["ok"] else f"NOT ANSWERING ({inbox['error']})"
        lines.append(f"Inbox ({bot.config.inbox.kind}): {state} since {since}")
        lines.append("")
    outage = sender_outage(bot.store)
    if outage is not None:
        since = _when(outage.since, bot)
        lines += [f"Mail server ({bot.config.sender.kind}): NOT TAKING MAIL since {since} ({outage.error})", ""]
    lines += describe(bot)  # instances sharing a database: the leader and the standbys; nothing on SQLite
    lines += _throttling(bot, now)
    open_total = sum(n for _, _, n in view.open_counts)
    by_state = ", ".join(f"{kind} {state} {n}" for kind, state, n in view.open_counts)
    lines.append(f"Open cases: {open_total}" + (f" ({by_state})" if by_state else ""))
    for case in view.open_cases:
        numbers = ", ".join(case.n_numbers) or "(no N number yet)"
        lines.append(f"  {case.case_id}  {case.kind:<8}  {case.state:<20}  {numbers}")
    lines += filter(None, [_shown(len(view.open_cases), open_total, "open cases")])
    lines.append("")
    lines.append(f"Upcoming bookings: {view.bookings}")
    for booking in view.next_bookings:
        end = booking.end.astimezone(bot.config.bot.timezone)
        lines.append(f"  {_when(booking.start, bot)}-{end:%H:%M}  {booking.case_id}  {', '.join(booking.n_numbers)}")
    lines += filter(None, [_shown(len(view.next_bookings), view.bookings, "bookings")])
    lines.append("")
    overdue = f" ({view.overdue} OVERDUE)" if view.overdue else ""
    lines.append(f"Pending timers: {view.timers}{overdue}")
    for timer in view.next_timers:
        late = "  OVERDUE" if timer.due_at < now else ""
        lines.append(f"  {_when(timer.due_at, bot)}  {timer.purpose:<20}  {timer.case_id or '-'}{late}")
    lines += filter(None, [_shown(len(view.next_timers), view.timers, "timers")])
    lines.append("")
    lines.append(f"Emails waiting to be delivered: {view.emails_waiting}")
    oldest = f" (oldest received {_when(view.oldest_quarantined, bot)})" if view.oldest_quarantined else ""
    lines.append(f"Quarantined messages: {view.quarantined}{oldest}")
    return "\n".join(lines) + "\n"


def status_json(bot: View, now: datetime, limit: int | None = DEFAULT_LIMIT) -> dict[str, Any]:
    """`status --json`: the same figures as the text, times ISO 8601 in the bot's timezone (README)."""
    view = _overview(bot, now, limit)
    inbox = _inbox_health(bot)
    outage = sender_outage(bot.store)
    return {
        "at": _iso(now, bot),
        "config": bot.config.source,
        "sealed": bot.config.privacy.key_env is not None,
        "inbox": None
        if inbox is None
        else {
            "kind": bot.config.inbox.kind,
            "ok": bool(inbox["ok"]),
            "since": _iso(datetime.fromisoformat(inbox["since"]), bot),
            "error": inbox.get("error"),
        },
        "sender_outage": None
        if outage is None
        else {"kind": bot.config.sender.kind, "since": _iso(outage.since, bot), "error": outage.error},
        "open_cases": {
            "count": sum(n for _, _, n in view.open_counts),
            "by_state": [{"kind": kind, "state": state, "count": n} for kind, state, n in view.open_counts],
            "listed": [
                {"case_id": c.case_id, "kind": c.kind, "state": c.state, "n_numbers": list(c.n_numbers)}
                for c in view.open_cases
            ],
        },
        "bookings": {
            "count": view.bookings,
            "listed": [
                {
                    "case_id": b.case_id,
                    "start": _iso(b.start, bot),
                    "end": _iso(b.end, bot),
                    "n_numbers": list(b.n_numbers),
                }
                for b in view.next_bookings
            ],
        },
        "timers": {
            "count": view.timers,
            "overdue": view.overdue,
            "listed": [
                {
                    "due_at": _iso(d.due_at, bot),
                    "purpose": d.purpose,
                    "case_id": d.case_id,
                    "overdue": d.due_at < now,
                }
                for d in view.next_timers
            ],
        },
        "emails_waiting": view.emails_waiting,
        "quarantine": {"count": view.quarantined, "oldest_received_at": _iso(view.oldest_quarantined, bot)},
        "instances": instances(bot),  # a shared database: the leader and the standbys; None on SQLite
    }


def _throttling(bot: View, now: datetime) -> list[str]:
    """Each role a mail server keeps waiting, and until when; nothing for a site without Graph or EWS."""
    kinds = {"inbox": bot.config.inbox.kind, "sender": bot.config.sender.kind, "calendar": bot.config.calendar.kind}
    if not any(kinds[role] in ("graph", "ews") for role in ROLES):
        return []
    throttled = recorded(bot.store, now)
    if not throttled:
        return ["Throttling: none", ""]
    lines = [
        f"Throttled: {role} ({kinds[role]}) waits until {_when(throttled[role], bot)}"
        for role in ROLES
        if role in throttled
    ]
    return [*lines, ""]


def _case_histories(bot: View, reference: str) -> list[tuple[Any, list[HistoryEntry]]] | None:
    """Each case with this N number or case id and its history, with what an administrator did to its messages."""
    from bot.adapters.sql_quarantine import admin_entries  # SQLAlchemy: `status` on SQLite does without it

    with bot.store.transaction() as tx:
        cases = tx.cases_for(reference)
        if not cases:
            return None
        found = []
        for case in cases:
            entries = tx.history(case.case_id)
            ids = sorted({e.message_id for e in entries if e.message_id})
            extra = admin_entries(tx.conn, ids)  # type: ignore[attr-defined]
            # What happened to its messages before the case existed (quarantined, released) comes first.
            found.append((case, [*extra, *entries]))
    return found


def render_history(bot: View, reference: str) -> str | None:
    """Every recorded action on the cases with this N number or case id, oldest first; None if unknown."""
    found = _case_histories(bot, reference)
    if found is None:
        return None
    lines: list[str] = []
    for case, entries in found:
        lines.append(
            f"{case.case_id}  {case.kind.value} request  {', '.join(case.details.n_numbers)}  ({case.state.value})"
        )
        for entry in entries:
            source = f"  [{entry.message_id}]" if entry.message_id else ""
            detail = f": {entry.detail}" if entry.detail else ""
            lines.append(f"  {_when(entry.at, bot)}  {entry.actor:<32}  {entry.action}{detail}{source}")
        lines.append("")
    return "\n".join(lines)


def history_json(bot: View, reference: str) -> dict[str, Any] | None:
    """`history --json`: the same entries as the text (README); None if no case has this reference."""
    found = _case_histories(bot, reference)
    if found is None:
        return None
    return {
        "reference": reference,
        "cases": [
            {
                "case_id": case.case_id,
                "kind": case.kind.value,
                "state": case.state.value,
                "n_numbers": list(case.details.n_numbers),
                "entries": [
                    {
                        "at": _iso(e.at, bot),
                        "actor": e.actor,
                        "action": e.action,
                        "detail": e.detail,
                        "message_id": e.message_id,
                    }
                    for e in entries
                ],
            }
            for case, entries in found
        ],
    }
