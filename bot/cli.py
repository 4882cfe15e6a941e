"""The `strategy-bot` command line: run, demo, parse, replay, check-config."""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Config, ConfigError, load_config
from bot.errors import BotError

if TYPE_CHECKING:
    from bot.domain.model import RequestDetails
    from bot.wiring import Bot

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _config(path: str | None) -> Config:
    return load_config(Path(path) if path else None)


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# -- run ----------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from bot.adapters.system_clock import SimulatedClock, SystemClock
    from bot.daemon import Daemon
    from bot.ports import Clock
    from bot.wiring import build

    config = _config(args.config)
    _setup_logging(args.verbose)
    clock: Clock = SystemClock()
    if args.clock_start is not None:
        clock = SimulatedClock(args.clock_start, args.clock_speed)
    bot = build(config)
    if config.privacy.key_env is None:
        logging.getLogger("bot").warning(
            "privacy.key_env is not set: case details and stored emails are kept unsealed on disk"
        )
    try:
        return Daemon(bot, clock).run()
    finally:
        bot.close()


# -- check-config ---------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.adapters.sql_store import SqlStore
    from bot.mail.rendering import MailRenderer
    from bot.ports import Checkable, Closeable
    from bot.wiring import CALENDARS, INBOXES, PURPOSES, SENDERS, check_kinds

    config = load_config(Path(args.file))
    check_kinds(config)
    MailRenderer(config.templates_dir).check(PURPOSES)
    if config.sender.smtp is not None and config.sender.kind == "smtp":
        config.sender.smtp.password()
    print(f"{args.file}: configuration is valid")
    print(f"  inbox:    {_inbox_where(config)}")
    print(f"  calendar: {config.calendar.kind} ({config.calendar.name})")
    print(f"  sender:   {_sender_where(config)}")
    print(f"  store:    {config.store.kind} ({config.store.url})")
    sealing = f"sealed with the key in ${config.privacy.key_env}" if config.privacy.key_env else "NOT sealed"
    print(f"  personal data at rest: {sealing}; purged {config.privacy.retention_days} days after a case ends")
    if args.offline:
        return EXIT_OK
    # The adapters are built as the daemon builds them, on a scratch database: a check
    # changes nothing on disk and moves no mail.
    scratch = SqlStore("sqlite://")
    scratch.migrate()
    roles = [
        (role, make)
        for role, kind, make in (
            ("inbox", config.inbox.kind, lambda: INBOXES[config.inbox.kind](config, scratch)),
            ("sender", config.sender.kind, lambda: SENDERS[config.sender.kind](config)),
            ("calendar", config.calendar.kind, lambda: CALENDARS[config.calendar.kind](config, scratch)),
        )
        if kind not in LOCAL_KINDS
    ]
    if not roles:
        return EXIT_OK
    print("Connecting to the servers it names:")
    failed = False
    said: list[str] = []
    for role, make in roles:
        try:
            adapter = make()
            problems = adapter.check() if isinstance(adapter, Checkable) else []
            if isinstance(adapter, Closeable):
                adapter.close()
        except BotError as exc:
            problems = [str(exc)]
        except Exception as exc:  # noqa: BLE001 - the operator gets one plain line, never a traceback
            problems = [f"the check failed unexpectedly: {type(exc).__name__}: {str(exc)[:200]}"]
        failed = failed or bool(problems)
        if not problems:
            print(f"  {role + ':':<9} ok")
        for problem in problems:
            print(f"  {role + ':':<9} PROBLEM: {problem}")
        said.extend(problems)
    if config.graph is not None and "graph" in (config.inbox.kind, config.sender.kind, config.calendar.kind):
        from bot.adapters.graph_client import GraphClient
        from bot.adapters.graph_privilege import scope_report

        proven, lines = scope_report(GraphClient(config.graph), said)
        print(*lines, sep="\n")
        failed = failed or not proven
    scratch.dispose()
    return EXIT_ERROR if failed else EXIT_OK


# Kinds kept on this machine: nothing to connect to, and building them would create folders.
LOCAL_KINDS = ("maildir", "local")


def cmd_new_key(args: argparse.Namespace) -> int:
    from bot.sealing import new_key

    print(new_key())
    return EXIT_OK


def _inbox_where(config: Config) -> str:
    imap = config.inbox.imap
    if config.inbox.kind == "imap" and imap is not None:
        return f"imap {imap.username} at {imap.host}:{imap.port} ({imap.security}), folder {config.inbox.folder}"
    if config.inbox.kind == "maildir":
        return f"maildir at {config.inbox.path}"
    return f"{config.inbox.kind}, folder {config.inbox.folder}"


def _sender_where(config: Config) -> str:
    smtp = config.sender.smtp
    if config.sender.kind == "smtp" and smtp is not None:
        return f"smtp at {smtp.host}:{smtp.port} ({smtp.security})"
    if config.sender.kind == "maildir":
        return f"maildir at {config.sender.path}"
    return config.sender.kind


# -- parse ------------------------------------------------------------------------------------------


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
    try:
        summary = parse_summary(raw, _config(args.config))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract is one line and exit 2, never a traceback
        print(f"strategy-bot parse: {path} could not be read as an email ({type(exc).__name__})", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_OK


# -- replay -----------------------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"got {text!r}; expected an ISO 8601 time such as 2026-11-27T12:00:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a UTC offset, e.g. 2026-11-27T12:00:00+00:00")
    return moment


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.replay import Replay, load

    config = _config(args.config)
    try:
        saved = load([Path(p) for p in args.paths])
    except OSError as exc:
        print(f"strategy-bot replay: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    replay = Replay(config)
    try:
        for _item, _result, events in replay.run(saved, args.until):
            for event in events:
                print(json.dumps(event, ensure_ascii=False), flush=False)
    finally:
        replay.close()
    sys.stdout.flush()
    return EXIT_OK


# -- demo -------------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    # The demo prints its own account of what happened; the daemon's warnings would only repeat it.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    return run_demo(_config(args.config), Path(args.out), sys.stdout)


# -- status and history -------------------------------------------------------------------------------


def _print_from_store(args: argparse.Namespace, render: Callable[[Bot, datetime], str]) -> int:
    from bot.wiring import build

    config = _config(args.config)
    bot = build(config, with_mail=False)
    try:
        print(render(bot, datetime.now(config.bot.timezone)), end="")
    finally:
        bot.close()
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from bot.status import render_status

    return _print_from_store(args, render_status)


def cmd_metrics(args: argparse.Namespace) -> int:
    from bot.metrics import render_metrics

    return _print_from_store(args, render_metrics)


def cmd_history(args: argparse.Namespace) -> int:
    from bot.domain.n_numbers import normalise_n_number
    from bot.status import render_history
    from bot.wiring import build

    config = _config(args.config)
    wanted = normalise_n_number(args.reference) or args.reference.strip().upper()
    bot = build(config, with_mail=False)
    try:
        text = render_history(bot, wanted)
    finally:
        bot.close()
    if text is None:
        print(f"strategy-bot history: no case with N number or case id {wanted}", file=sys.stderr)
        return EXIT_ERROR
    print(text, end="")
    return EXIT_OK


# -- the parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strategy-bot",
        description="Books and follows up child-protection strategy discussions from the referral inbox.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon on the configured inbox, calendar and sender")
    run.add_argument("--config", help="TOML config file (default: the embedded default)")
    run.add_argument("--verbose", action="store_true", help="log debug detail too")
    run.add_argument(
        "--clock-start", type=_instant, help="rehearsal: run on a simulated clock starting at this ISO 8601 time"
    )
    run.add_argument(
        "--clock-speed", type=float, default=1.0, help="rehearsal: simulated seconds per real second (default 1)"
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="replay the bundled example requests over a week and show the result")
    demo.add_argument("--config", help="TOML config file (default: the embedded default)")
    demo.add_argument(
        "--out", default="strategy-bot-demo", help="folder for the rendered emails and .ics (default: %(default)s)"
    )
    demo.set_defaults(func=cmd_demo)

    key = sub.add_parser("new-key", help="print a new key for sealing personal data at rest (privacy.key_env)")
    key.set_defaults(func=cmd_new_key)

    check = sub.add_parser(
        "check-config", help="validate a config file, then log in to its servers and say in plain words what is wrong"
    )
    check.add_argument("file")
    check.add_argument("--offline", action="store_true", help="validate the file only; connect to nothing")
    check.set_defaults(func=cmd_check_config)

    parse = sub.add_parser("parse", help="print what the bot reads from one .eml file, as JSON")
    parse.add_argument("file")
    parse.add_argument("--config", help="TOML config file (default: the embedded default)")
    parse.set_defaults(func=cmd_parse)

    replay = sub.add_parser("replay", help="dry-run saved emails through the service; JSON lines out")
    replay.add_argument("paths", nargs="+", metavar="PATH", help=".eml files or folders of them")
    replay.add_argument("--config", help="TOML config file (default: the embedded default)")
    replay.add_argument("--until", type=_instant, help="advance the simulated clock to this time at the end")
    replay.set_defaults(func=cmd_replay)

    status = sub.add_parser("status", help="open cases, upcoming bookings and pending timers")
    status.add_argument("--config", help="TOML config file (default: the embedded default)")
    status.set_defaults(func=cmd_status)

    metrics = sub.add_parser("metrics", help="the bot's figures in the Prometheus text format")
    metrics.add_argument("--config", help="TOML config file (default: the embedded default)")
    metrics.set_defaults(func=cmd_metrics)

    history = sub.add_parser("history", help="everything the bot did to a case, in order")
    history.add_argument("reference", help="an N number (N146782) or a case id (SD000001)")
    history.add_argument("--config", help="TOML config file (default: the embedded default)")
    history.set_defaults(func=cmd_history)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"strategy-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_ERROR
    return code
