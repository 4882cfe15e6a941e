"""What every command shares: exit codes, the config and logging set-up, argument types."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from bot.config import Config, load_config

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

CONFIG_HELP = "TOML config file (default: the embedded default)"


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help=CONFIG_HELP)


def config_from(path: str | None) -> Config:
    return load_config(Path(path) if path else None)


def setup_logging(verbose: bool = False, config: Config | None = None) -> None:
    """The config's ``[logging]`` (text or JSON, level); ``verbose`` means debug for the bot's own lines."""
    from bot.logging_setup import configure

    configure(config.logging if config is not None else None, verbose=verbose)


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
