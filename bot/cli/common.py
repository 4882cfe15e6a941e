"""What every command shares: exit codes, the config and logging set-up, argument types."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path

from bot.config import Config, load_config

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

CONFIG_HELP = "TOML config file (default: the embedded default)"


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help=CONFIG_HELP)


def config_from(path: str | None) -> Config:
    return load_config(Path(path) if path else None)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"got {text!r}; expected an ISO 8601 time such as 2026-11-27T12:00:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected a UTC offset, e.g. 2026-11-27T12:00:00+00:00")
    return moment
