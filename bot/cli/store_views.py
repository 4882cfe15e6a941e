"""`strategy-bot status`, `metrics` and `history`: read-only views of the store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config, config_from

if TYPE_CHECKING:
    from bot.config import Config
    from bot.store_opening import StoreView


def _refused(args: argparse.Namespace, config: Config) -> bool:
    """A database that does not exist is refused, never created empty to report "Open cases: 0"."""
    from bot.storage_paths import missing_database

    missing = missing_database(config)
    if missing is not None:
        print(f"strategy-bot {args.command}: {missing}", file=sys.stderr)
    return missing is not None


def _print_from_view(
    args: argparse.Namespace, render: Callable[[StoreView, datetime], str], opening: Callable[[Config], StoreView]
) -> int:
    config = config_from(args.config)
    if _refused(args, config):
        return EXIT_ERROR
    view = opening(config)  # the store alone: no service, mail or calendar is built
    try:
        print(render(view, datetime.now(config.bot.timezone)), end="")
    finally:
        view.close()
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from bot.status import render_status, status_json
    from bot.store_opening import open_status_view  # on SQLite, not even SQLAlchemy

    limit = None if args.all else args.limit
    if args.json:
        return _print_from_view(args, lambda view, now: _json(status_json(view, now, limit)), open_status_view)
    return _print_from_view(args, lambda view, now: render_status(view, now, limit), open_status_view)


def _json(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n"


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a whole number of items, 1 or more")
    return value


def cmd_metrics(args: argparse.Namespace) -> int:
    from bot.metrics import render_metrics
    from bot.store_opening import open_view

    return _print_from_view(args, render_metrics, open_view)


def cmd_history(args: argparse.Namespace) -> int:
    from bot.domain.n_numbers import normalise_n_number
    from bot.status import history_json, render_history

    config = config_from(args.config)
    wanted = normalise_n_number(args.reference) or args.reference.strip().upper()
    if _refused(args, config):
        return EXIT_ERROR
    from bot.store_opening import open_view

    view = open_view(config)
    try:
        if args.json:
            data = history_json(view, wanted)
            text = None if data is None else _json(data)
        else:
            text = render_history(view, wanted)
    finally:
        view.close()
    if text is None:
        print(f"strategy-bot history: no case with N number or case id {wanted}", file=sys.stderr)
        return EXIT_ERROR
    print(text, end="")
    return EXIT_OK


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="open cases, upcoming bookings and pending timers")
    add_config(status)
    status.add_argument(
        "--limit", type=_limit, default=20, help="list at most this many of each (cases, bookings, timers; default 20)"
    )
    status.add_argument("--all", action="store_true", help="list every open case, booking and pending timer")
    status.add_argument("--json", action="store_true", help="the same as JSON (fields in the README)")
    status.set_defaults(func=cmd_status)

    metrics = sub.add_parser("metrics", help="the bot's figures in the Prometheus text format")
    add_config(metrics)
    metrics.set_defaults(func=cmd_metrics)

    history = sub.add_parser("history", help="everything the bot did to a case, in order")
    history.add_argument("reference", help="an N number (N146782) or a case id (SD000001)")
    add_config(history)
    history.add_argument("--json", action="store_true", help="the same as JSON (fields in the README)")
    history.set_defaults(func=cmd_history)
