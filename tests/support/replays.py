"""The `replay` command's engine on the simulated clock, for tests that follow a case through its emails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import Config, load_config
from bot.replay import Replay, load


def write_received(path: Path, raw: bytes, received: datetime) -> Path:
    """The message as the inbox's server saved it: a topmost Received header with its time."""
    stamp = received.strftime("%a, %d %b %Y %H:%M:%S %z")
    header = f"Received: from mail.council.example by mx.police.example; {stamp}\r\n".encode()
    path.write_bytes(header + raw)
    return path


@dataclass(frozen=True)
class Sent:
    """One email in a replay, as `replay` prints it: when, what for, To and Cc apart, the subject."""

    at: datetime
    purpose: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    case: str | None


def replay(
    folder: Path, messages: list[tuple[datetime, bytes]], until: datetime, config: Config | None = None
) -> list[dict[str, Any]]:
    """Replay ``messages`` (each received at its time) and fire every timer up to ``until``; the JSON events."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_received(folder / f"{n:03d}.eml", raw, at) for n, (at, raw) in enumerate(messages)]
    engine = Replay(config or load_config(None, base=folder))
    try:
        return [event for _, _, events in engine.run(load(paths), until) for event in events]
    finally:
        engine.close()


def sent(events: list[dict[str, Any]], tz: Any = None) -> list[Sent]:
    """The `email` events, in order, with their times as aware datetimes (in ``tz`` when given)."""
    out = []
    for e in events:
        if e["event"] != "email":
            continue
        at = datetime.fromisoformat(e["at"])
        out.append(
            Sent(at.astimezone(tz) if tz else at, e["purpose"], tuple(e["to"]), tuple(e["cc"]), e["subject"], e["case"])
        )
    return out
