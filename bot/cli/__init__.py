"""The `strategy-bot` command line. Each command lives in its own module of ``bot.cli`` with an
``add`` function that registers it; the order of ``COMMANDS`` (module names) is the order of ``--help``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot import __version__
from bot.cli.common import EXIT_ERROR, EXIT_USAGE
from bot.config import ConfigError

if TYPE_CHECKING:
    from bot.cli.parse import parse_summary

__all__ = ["build_parser", "main", "parse_summary"]

COMMANDS = (
    "init",
    "migrate",
    "run",
    "replay",
    "check",
    "parse",
    "store_views",
    "quarantine",
    "report",
    "board",
    "health",
)
# A command line naming one of these builds its module's parser alone, so that the others' imports
# are not paid by `status` (run by monitoring every minute); any other builds every module's.
# tests/e2e/test_cli_alone.py holds each to the module that registers it.
ALONE = {"status": "store_views", "metrics": "store_views", "history": "store_views", "health": "health"}


def build_parser(modules: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strategy-bot",
        description="Books and follows up child-protection strategy discussions from the referral inbox.",
    )
    parser.add_argument("--version", action="version", version=f"strategy-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(f"bot.cli.{name}").add(sub)
    return parser


def __getattr__(name: str) -> object:
    """``parse_summary``, re-exported, imported when asked for."""
    if name == "parse_summary":
        from bot.cli.parse import parse_summary

        return parse_summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    alone = ALONE.get(words[0]) if words else None
    args = build_parser(COMMANDS if alone is None else (alone,)).parse_args(words)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"strategy-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - no command shows a traceback: one line, the detail at DEBUG
        from bot.cli.guard import unexpected

        return unexpected(args, exc)
    return code
