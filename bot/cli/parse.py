"""`strategy-bot parse`: what the bot reads from one email, as JSON (a contract)."""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import EXIT_OK, EXIT_USAGE, add_config, config_from
from bot.config import Config, ConfigError
from bot.mail.limits import nesting_depth_over

if TYPE_CHECKING:
    from bot.domain.model import RequestDetails


def parse_summary(raw: bytes, config: Config) -> dict[str, Any]:
    """The `strategy-bot parse` contract: what the bot reads from one email, statelessly."""
    from bot.domain.classify import classify
    from bot.domain.model import Kind
    from bot.domain.request_reading import read_request
    from bot.domain.urgent_screening import screen_urgent_indicators

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    verdict = classify(msg, {config.bot.address})
    reading_kind = verdict.kind if verdict.kind in (Kind.URGENT, Kind.STANDARD) else Kind.STANDARD
    details = read_request(msg, reading_kind)
    from bot.domain.message_text import message_text

    text = "\n".join(filter(None, [details.reason, message_text(msg).plain]))
    return {
        "kind": verdict.kind.value,
        "is_reply": verdict.is_reply,
        "n_numbers": list(details.n_numbers),
        "surname": details.surname,
        "requester": {
            "name": details.requester.name,
            "role": details.requester.role,
            "phone": details.requester.phone,
            "email": details.requester.email,
        },
        "complex": details.complex,
        "health_rep": details.health_rep,
        "invitees": list(details.invitees),
        "emergency_action": _emergency_summary(details),
        "missing": details.missing(reading_kind),
        "urgent_indicators": screen_urgent_indicators(text),
    }


def _emergency_summary(details: RequestDetails) -> dict[str, str | None] | None:
    """§2: what emergency action was taken and when (ISO date, HH:MM), as read; None when none."""
    action = details.emergency_action
    if action is None:
        return None
    return {
        "taken": action.taken,
        "date": action.day.isoformat() if action.day else None,
        "time": f"{action.time_of_day:%H:%M}" if action.time_of_day else None,
    }


def cmd_parse(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        print(f"strategy-bot parse: {path} is a folder; expected an .eml file", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"strategy-bot parse: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    if not raw.strip():
        print(f"strategy-bot parse: {path} is empty; expected an email (.eml)", file=sys.stderr)
        return EXIT_USAGE
    config = config_from(args.config)
    depth = config.inbox.max_mime_depth
    # Measured before the parser, as the daemon does: Python's parser recurses per level.
    if nesting_depth_over(raw, depth):
        print(
            f"strategy-bot parse: {path} has MIME nested more than {depth} levels deep (inbox.max_mime_depth);"
            " the bot quarantines such a message",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        summary = parse_summary(raw, config)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract is one line and exit 2, never a traceback
        print(f"strategy-bot parse: {path} could not be read as an email ({type(exc).__name__})", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_OK


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parse = sub.add_parser("parse", help="print what the bot reads from one .eml file, as JSON")
    parse.add_argument("file")
    add_config(parse)
    parse.set_defaults(func=cmd_parse)
