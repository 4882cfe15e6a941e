"""`strategy-bot health`: one line per check, exit 0 ok, 1 degraded, 2 down (bot/health.py)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from bot.cli.common import add_config, config_from


def cmd_health(args: argparse.Namespace) -> int:
    from bot.adapters.sql_store import SqlStore
    from bot.config import ConfigError
    from bot.health import Probe, overall, report, run_checks
    from bot.store_opening import STORES

    config = config_from(args.config)
    url = config.store.url
    store: SqlStore | None = None
    error = None
    if config.store.kind == "sqlite":
        # Never create the database: a health check on a wrong path reports it missing. No sealer:
        # the checks read counts and times only, and the sealing check says whether the key is there.
        if Path(url.removeprefix("sqlite:///")).is_file():
            store = SqlStore(url, None)
    else:
        try:
            store = STORES[config.store.kind](config)
        except (ConfigError, KeyError) as exc:
            error = str(exc)
    try:
        findings = run_checks(Probe(config, store, datetime.now(config.bot.timezone), store_error=error))
    finally:
        if store is not None:
            store.dispose()
    print(report(findings), end="")
    return int(overall(findings))


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    health = sub.add_parser(
        "health", help="is the bot doing its job: one line per check; exit 0 ok, 1 degraded, 2 down"
    )
    add_config(health)
    health.set_defaults(func=cmd_health)
