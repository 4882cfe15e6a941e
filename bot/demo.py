"""`strategy-bot demo`: the bundled example requests replayed over a week, shown to a newcomer."""

from __future__ import annotations

import email
import email.policy
import shutil
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from importlib import resources
from pathlib import Path
from typing import TextIO

from bot.adapters.local_calendar import LocalCalendar
from bot.config import Config
from bot.replay import Replay, load
from bot.report.render import csv_text, html


def _examples_dir(scratch: Path) -> Path:
    """The bundled examples as a real folder (they may live inside an installed package)."""
    source = resources.files("bot.examples")
    target = scratch / "examples"
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name.endswith(".eml"):
            (target / entry.name).write_bytes(entry.read_bytes())
    return target


def _html_part(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("html",))
    return str(body.get_content()) if body is not None else ""


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M")


def run_demo(config: Config, out: Path, stdout: TextIO) -> int:
    """Replay the examples, print what happened, write the emails (HTML) and calendars to ``out``."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    replay = Replay(config, workdir=out / ".state")
    try:
        saved = load([_examples_dir(out / ".state")])
        tz = config.bot.timezone
        first = saved[0].received_at.astimezone(tz) if saved and saved[0].received_at else None
        until = (first + timedelta(days=7)) if first else None
        week = f"the week of {first:%A %d %B %Y}" if first else "no examples"
        print(
            f"strategy-bot demo: {len(saved)} example emails replayed on the embedded default, {week}.\n", file=stdout
        )
        purposes: Counter[str] = Counter()
        written = 0
        for item, result, events in replay.run(saved, until):
            if result is None:
                continue
            if item is None:
                # A timer fired on the simulated clock.
                at = datetime.fromisoformat(events[0]["at"]) if events else None
                stamp = _when(at.astimezone(tz)) if at else " " * 16
                print(
                    f"{stamp}  {'(timer) ' + (result.reason or ''):<42} {'':<12} {result.case_id or '-':<9}",
                    file=stdout,
                )
            else:
                at = (item.received_at or datetime.now(tz)).astimezone(tz)
                what = f"{result.kind:<12} {result.case_id or '-':<9}"
                print(f"{_when(at)}  {item.path.name:<42} {what} {result.outcome}", file=stdout)
            if result.reason and result.outcome in ("quarantine", "ignored"):
                print(f"{'':18}reason: {result.reason}", file=stdout)
            for _case_id, event in result.booked:
                start, end = event.start.astimezone(tz), event.end.astimezone(tz)
                print(f'{"":18}booked {start:%a %d %b %H:%M}-{end:%H:%M}  "{event.subject}"', file=stdout)
            for mail in result.emails:
                if not mail.to and not mail.cc:
                    continue
                purposes[mail.purpose] += 1
                cc = f" (cc {', '.join(mail.cc)})" if mail.cc else ""
                print(f"{'':18}email {mail.purpose} to {', '.join(mail.to)}{cc}", file=stdout)
        # Every rendered email, as the HTML a recipient sees, and the invitations.
        from sqlalchemy import select

        from bot.adapters import sql_schema as t

        with replay.bot.store.connection() as conn:
            rows = conn.execute(select(t.outbox.c.id, t.outbox.c.purpose, t.outbox.c.case_id, t.outbox.c.raw)).all()
        emails_dir = out / "emails"
        emails_dir.mkdir()
        for row in rows:
            name = f"{row.id:03d}-{row.purpose}-{row.case_id or 'no-case'}"
            (emails_dir / f"{name}.html").write_text(_html_part(row.raw), encoding="utf-8")
            (emails_dir / f"{name}.eml").write_bytes(row.raw)
            written += 1
        ics = replay.bot.publish_calendar(until or datetime.now(tz))
        print("\nThe strategy calendar now holds:", file=stdout)
        # A replay always runs on the embedded calendar.
        calendar = replay.bot.calendar
        assert isinstance(calendar, LocalCalendar)
        for event in calendar.all_events():
            start, end = event.start.astimezone(tz), event.end.astimezone(tz)
            print(f"  {start:%a %d %b %H:%M}-{end:%H:%M}  {event.subject}", file=stdout)
        summary = ", ".join(f"{purpose} {count}" for purpose, count in sorted(purposes.items()))
        print(f"\nEmails sent: {sum(purposes.values())} ({summary}).", file=stdout)
        print(f"Written to {out.resolve()}:", file=stdout)
        print(f"  emails/  {written} emails, each as .html (what the recipient sees) and .eml", file=stdout)
        if ics is not None:
            shutil.copy(ics, out / "strategy-calendar.ics")
            print("  strategy-calendar.ics  the published strategy calendar (subscribe to it in Outlook)", file=stdout)
        if replay.figures is not None:
            # The compliance report over the replayed week (issue 14), as `strategy-bot report` writes it.
            (out / "compliance.html").write_text(html(replay.figures, tz), encoding="utf-8")
            (out / "compliance.csv").write_text(csv_text(replay.figures), encoding="utf-8")
            print("  compliance.html, compliance.csv  the timescales met and missed over the week", file=stdout)
    finally:
        replay.close()
    return 0
