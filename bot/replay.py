"""A dry run of the real service over saved emails, on a simulated clock, in a throw-away state."""

from __future__ import annotations

import email
import email.parser
import email.policy
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.domain.classify import date_header, topmost_received_time
from bot.domain.compliance_figures import Figures, as_json
from bot.ports import IncomingMail
from bot.service import Handled
from bot.service.compliance import compliance_figures
from bot.wiring import Bot, build_embedded


@dataclass(frozen=True)
class SavedEmail:
    path: Path
    raw: bytes
    received_at: datetime | None


def collect(paths: list[Path]) -> list[Path]:
    """`.eml` files named directly, then those in named folders, each folder in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and p.is_file()))
        else:
            files.append(path)
    return files


def received_time(raw: bytes) -> datetime | None:
    """When the inbox got it: the topmost Received header, else the Date header."""
    # The headers alone: a hostile body (MIME nested thousands deep) cannot cost the message its time.
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    assert isinstance(msg, EmailMessage)
    return topmost_received_time(msg) or date_header(msg)


def load(paths: list[Path]) -> list[SavedEmail]:
    """Read every file (an unreadable one raises OSError naming it), in time order."""
    saved = []
    for path in collect(paths):
        raw = path.read_bytes()
        try:
            at = received_time(raw)
        except Exception:  # noqa: BLE001 - a hostile file is the service's to quarantine
            at = None
        saved.append(SavedEmail(path, raw, at))
    # A message with no usable time keeps its place after the one before it.
    last = datetime(1970, 1, 1, tzinfo=UTC)
    timed = []
    for item in saved:
        last = item.received_at or last
        timed.append((last, item))
    timed.sort(key=lambda pair: pair[0])
    return [SavedEmail(item.path, item.raw, at) for at, item in timed]


def events_for(saved: SavedEmail, at: datetime, result: Handled) -> Iterator[dict[str, Any]]:
    """The JSON events of the `replay` contract for one handled message."""
    stamp = at.isoformat()
    yield {
        "at": stamp,
        "event": "received",
        "file": str(saved.path),
        "message_id": result.message_id,
        "kind": result.kind,
        "case": result.case_id,
    }
    if result.outcome == "quarantine":
        yield {"at": stamp, "event": "quarantined", "file": str(saved.path), "reason": result.reason}
    elif result.outcome == "ignored":
        yield {"at": stamp, "event": "ignored", "file": str(saved.path), "reason": result.reason}
    for name, changes in (("cancelled", result.cancelled), ("moved", result.moved)):
        for case_id, event in changes:
            yield {
                "at": stamp,
                "event": name,
                "case": case_id,
                "start": event.start.astimezone(at.tzinfo).isoformat(),
                "end": event.end.astimezone(at.tzinfo).isoformat(),
            }
    for case_id, event in result.booked:
        yield {
            "at": stamp,
            "event": "booked",
            "case": case_id,
            "n_numbers": _n_numbers(event.subject),
            "start": event.start.astimezone(at.tzinfo).isoformat(),
            "end": event.end.astimezone(at.tzinfo).isoformat(),
            "subject": event.subject,
        }
    yield from email_events(stamp, result)


def _n_numbers(subject: str) -> list[str]:
    """The N numbers of a calendar subject: a rota discussion's, or an urgent meeting's (§3.5, §4.4)."""
    return subject.removeprefix("Urgent strategy meeting ").removeprefix("Strategy discussion ").split(", ")


def email_events(stamp: str, result: Handled) -> Iterator[dict[str, Any]]:
    """One `email` event per email queued (none for one that had no allowed recipient)."""
    for out in result.emails:
        if out.to or out.cc:
            yield {
                "at": stamp,
                "event": "email",
                "case": out.case_id,
                "purpose": out.purpose,
                "to": list(out.to),
                "cc": list(out.cc),
                "subject": out.subject,
            }


class Replay:
    """The service on embedded adapters in a temporary folder; nothing configured is touched."""

    def __init__(self, config: Config, workdir: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="strategy-bot-replay-") if workdir is None else None
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.bot: Bot = build_embedded(config, self.workdir)
        self.tz = config.bot.timezone
        self.figures: Figures | None = None  # the compliance figures of the last run, once it has ended

    def run(
        self, saved: list[SavedEmail], until: datetime | None = None
    ) -> Iterator[tuple[SavedEmail | None, Handled | None, list[dict[str, Any]]]]:
        """Feed each message at its time, firing every timer due on the way at its own time, in order."""
        service = self.bot.service
        started = False
        first: datetime | None = None
        last: datetime | None = None
        for item in saved:
            at = (item.received_at or datetime.now(UTC)).astimezone(self.tz)
            first, last = first or at, at
            if not started:
                service.ensure_agenda(at)
                started = True
            yield from self.fire_until(at, inclusive=False)
            mail = IncomingMail(key=str(item.path), raw=item.raw, received_at=at)
            result = service.handle(mail, at)
            yield item, result, list(events_for(item, at, result))
        if until is not None:
            if not started:
                service.ensure_agenda(until)
            yield from self.fire_until(until.astimezone(self.tz), inclusive=True)
            yield from self.close_finished(until.astimezone(self.tz))
            first, last = first or until, until.astimezone(self.tz)
        if first is not None and last is not None:
            yield None, None, [self.compliance(first, last)]

    def compliance(self, first: datetime, last: datetime) -> dict[str, Any]:
        """The closing line (issue 14): each timescale's figures over the replayed days, as at the end."""
        made = compliance_figures(
            self.bot.store, self.bot.service.setup.policy, first.date(), last.date(), last.astimezone(self.tz)
        )
        self.figures = made
        whole = as_json(made)
        timescales = {
            name: {key: figures[key] for key in ("due", "met", "missed_cases")}
            for name, figures in whole["timescales"].items()  # type: ignore[attr-defined]
        }
        return {"event": "compliance", "from": whole["from"], "to": whole["to"], "timescales": timescales}

    def fire_until(
        self, moment: datetime, inclusive: bool
    ) -> Iterator[tuple[SavedEmail | None, Handled | None, list[dict[str, Any]]]]:
        """Fire, on the simulated clock, every timer due before ``moment`` (or at it, when inclusive)."""
        service = self.bot.service
        while True:
            due = [t for t in service.due_timers(moment) if inclusive or t.due_at < moment]
            if not due:
                return
            timer = due[0]
            at = timer.due_at.astimezone(self.tz)
            result = service.handle_due(timer.id, at)
            if result is not None:
                yield None, result, list(email_events(at.isoformat(), result))
            yield from self.close_finished(at)

    def close_finished(self, at: datetime) -> Iterator[tuple[SavedEmail | None, Handled | None, list[dict[str, Any]]]]:
        """§5: the periodic closing check on the simulated clock; one ``closed`` event per case closed."""
        closed = self.bot.service.close_finished(at)
        if closed:
            stamp = at.isoformat()
            yield None, None, [{"at": stamp, "event": "closed", "case": c, "reason": r} for c, r in closed]

    def close(self) -> None:
        self.bot.close()
        if self._tmp is not None:
            self._tmp.cleanup()
