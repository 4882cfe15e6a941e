"""`strategy-bot status`, `metrics` and `history`: read-only views of the store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config, config_from

if TYPE_CHECKING:
    from bot.config import Config
    from bot.wiring import Bot


def _refused(args: argparse.Namespace, config: Config) -> bool:
    """A database that does not exist is refused, never created empty to report "Open cases: 0"."""
    from bot.storage_paths import missing_database

    missing = missing_database(config)
    if missing is not None:
        print(f"strategy-bot {args.command}: {missing}", file=sys.stderr)
    return missing is not None


def _print_from_store(args: argparse.Namespace, render: Callable[[Bot, datetime], str]) -> int:
    from bot.wiring import build

    config = config_from(args.config)
    if _refused(args, config):
        return EXIT_ERROR
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

    config = config_from(args.config)
    wanted = normalise_n_number(args.reference) or args.reference.strip().upper()
    if _refused(args, config):
        return EXIT_ERROR
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


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="open cases, upcoming bookings and pending timers")
    add_config(status)
    status.set_defaults(func=cmd_status)

    metrics = sub.add_parser("metrics", help="the bot's figures in the Prometheus text format")
    add_config(metrics)
    metrics.set_defaults(func=cmd_metrics)

    history = sub.add_parser("history", help="everything the bot did to a case, in order")
    history.add_argument("reference", help="an N number (N146782) or a case id (SD000001)")
    add_config(history)
    history.set_defaults(func=cmd_history)
