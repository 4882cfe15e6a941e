"""The `strategy-bot` command line. Each command lives in its own module with an ``add``
function that registers it; the order of ``COMMANDS`` is the order of ``--help``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli import board, check, health, init, migrate, parse, quarantine, replay, report, run, store_views
from bot.cli.common import EXIT_ERROR, EXIT_USAGE
from bot.cli.guard import unexpected
from bot.cli.parse import parse_summary
from bot.config import ConfigError

__all__ = ["build_parser", "main", "parse_summary"]

COMMANDS = (init, migrate, run, replay, check, parse, store_views, quarantine, report, board, health)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strategy-bot",
        description="Books and follows up child-protection strategy discussions from the referral inbox.",
    )
    parser.add_argument("--version", action="version", version=f"strategy-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add(sub)
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
    except Exception as exc:  # noqa: BLE001 - no command shows a traceback: one line, the detail at DEBUG
        return unexpected(args, exc)
    return code
