"""Years of other cases' work written straight into a bot database, quickly (batch inserts), for cost tests.

``add_old_cases(path, count, now)`` adds ``count`` cases received over the three years before
``now``, all done and closed (one in seven cancelled first), each with what such a case leaves behind: its N number,
its request and a reply in the message log, its history, its booking and calendar event (in the
past), its emails (the same purposes and the same managers' addresses as new requests use, all
sent), its timers (fired or cancelled) and its compliance record; one case in ten also keeps a
pending timer a year or more ahead. Rows are those the bot itself would write, shaped as
bench/growth.py's ``prefill`` writes them. The same call with a small and a large ``count``
gives two databases that differ only in how much history they hold.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.adapters.sql_cases import _details_json
from bot.domain.model import RequestDetails, Requester

MANAGERS = ("alex.morgan@council.example", "sam.jones@council.example", "duty.ds@police.example")
EMAILS = (
    ("confirmation", "alex.morgan@council.example,health.safeguarding@nhs.example,dsl@school.council.example"),
    ("urgent_acknowledgement", "alex.morgan@council.example"),
    ("duty_referral", "duty.ds@police.example"),
    ("reminder_30_min", "alex.morgan@council.example,health.safeguarding@nhs.example"),
    ("minutes_template", "alex.morgan@council.example"),
    ("minutes_reminder", "alex.morgan@council.example"),
    ("command_help", "alex.morgan@council.example"),
    ("missing_information", "sam.jones@council.example"),
    ("triage_reply", "sam.jones@council.example"),
    ("quarantine_notice", "bot.admin@police.example"),
)
TIMERS = ("reminder_day_before", "reminder_30_min", "minutes_reminder", "escalation_60", "review_reminder")
ACTIONS = ("received", "booked", "confirmation_sent", "held", "minutes_recorded", "outcome_recorded", "closed")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def add_old_cases(path: Path, count: int, now: datetime) -> None:
    """``count`` finished cases of the three years before ``now``, with all their rows (see the module)."""
    first = now - timedelta(days=3 * 365)
    span = (now - timedelta(days=30) - first) / count
    cases, numbers, messages, history, bookings, events, outbox, timers, compliance = ([] for _ in range(9))
    for i in range(count):
        case_id, n, at = f"SD{i + 1:06d}", f"N{700000 + i}", first + span * i
        urgent = i % 5 == 0
        cancelled = i % 7 == 0  # cancelled long ago, and closed since by the hourly check
        details = RequestDetails(
            n_numbers=(n,),
            surname=f"Family{i}",
            requester=Requester(f"Manager {i}", "Team Manager", "01632 960123", MANAGERS[i % 2]),
            reason="Concerns raised by school about neglect.",
            health_rep="health.safeguarding@nhs.example",
        )
        root = f"<old-{i}@council.example>"
        cases.append((i + 1, case_id, "urgent" if urgent else "standard", "closed", n, _details_json(details), root,
                      _utc(at), at.date().isoformat(), _utc(at) if urgent else None, _utc(at), _utc(at)))  # fmt: skip
        numbers.append((n, case_id))
        messages += [(root, f"{i:064x}", _utc(at), _utc(at), "urgent" if urgent else "standard", "processed", None,
                      case_id, None),
                     (f"<old-reply-{i}@council.example>", f"r{i:063x}", _utc(at + timedelta(days=1)),
                      _utc(at + timedelta(days=1)), "reply", "processed", None, case_id, None)]  # fmt: skip
        history += [(case_id, _utc(at + timedelta(hours=h)), "bot", action, "", root if h == 0 else None)
                    for h, action in enumerate(ACTIONS)]  # fmt: skip
        start = at + timedelta(days=2)
        uid = f"strategy-{case_id}@police.example"
        bookings.append((case_id, uid, _utc(start), _utc(start + timedelta(minutes=15)), 0,
                         "cancelled" if cancelled else "booked"))  # fmt: skip
        if not cancelled:
            events.append((uid, f"Strategy discussion {n} ({case_id})", _utc(start),
                           _utc(start + timedelta(minutes=15)), "", "", "", "", 0, 1, 0))  # fmt: skip
        for k, (purpose, recipients) in enumerate(EMAILS):
            sent = at + timedelta(minutes=k)
            outbox.append((f"<{case_id}.{purpose}.1@police.example>", case_id, purpose, recipients,
                           f"Strategy discussion {n} ({case_id})", b"x" * 200, _utc(sent), "sent", 1, _utc(sent),
                           None, _utc(sent)))  # fmt: skip
        for k, purpose in enumerate(TIMERS):
            due = start + timedelta(hours=k - 2)
            status = "cancelled" if k % 2 else "fired"
            timers.append((f"{case_id}:{purpose}:{_utc(due)}:", case_id, purpose, _utc(due), "", status,
                           _utc(due) if status == "fired" else None, 0, uid))  # fmt: skip
        if i % 10 == 0:
            due = now + timedelta(days=400) + timedelta(minutes=i)
            timers.append((f"{case_id}:review_reminder:{_utc(due)}:", case_id, "review_reminder", _utc(due), "",
                           "pending", None, 0, ""))  # fmt: skip
        compliance.append((case_id, "urgent" if urgent else "standard", "closed", n, 0, 0, _utc(at), _utc(at)))
    con = sqlite3.connect(path)
    try:
        with con:
            _insert(con, "cases", "id case_id kind state n_numbers details root_message_id received_at effective_day "
                    "clock_start created_at updated_at", cases)  # fmt: skip
            _insert(con, "case_numbers", "n_number case_id", numbers)
            _insert(con, "messages", "message_id content_hash received_at handled_at kind outcome reason case_id raw",
                    messages)  # fmt: skip
            _insert(con, "history", "case_id at actor action detail message_id", history)
            _insert(con, "bookings", "case_id uid start end sequence status", bookings)
            _insert(con, "calendar_events", "uid subject start end body location attendees organizer sequence "
                    "private may_overlap", events)  # fmt: skip
            _insert(con, "outbox", "message_id case_id purpose recipients subject raw created_at status attempts "
                    "next_attempt_at last_error sent_at", outbox)  # fmt: skip
            _insert(con, "timers", "key case_id purpose due_at detail status fired_at late scope", timers)
            _insert(con, "compliance", "case_id kind state n_numbers complex emergency received_at updated_at",
                    compliance)  # fmt: skip
    finally:
        con.close()


def _insert(con: sqlite3.Connection, table: str, columns: str, rows: Sequence[tuple[object, ...]]) -> None:
    names = columns.split()
    quoted = ", ".join(f'"{name}"' for name in names)
    con.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(names))})", rows)
