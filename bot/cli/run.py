"""`strategy-bot run`: the daemon."""

from __future__ import annotations

import argparse
import logging
import os

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config, config_from, instant, setup_logging


def cmd_run(args: argparse.Namespace) -> int:
    from bot import stop_request

    stop_request.install()  # first: a SIGTERM while the daemon starts is a clean stop, exit 0
    from bot.adapters.instance_lock import single_instance
    from bot.adapters.system_clock import SimulatedClock, SystemClock
    from bot.daemon import Daemon
    from bot.leadership import leadership_for
    from bot.ports import Clock
    from bot.storage_paths import start_problems
    from bot.wiring import build, check_kinds

    # Everything the daemon creates (database, mail folders, documents) is its user's only.
    os.umask(0o077)
    config = config_from(args.config)
    setup_logging(args.verbose, config)
    clock: Clock = SystemClock()
    if args.clock_start is not None:
        clock = SimulatedClock(args.clock_start, args.clock_speed)
    check_kinds(config)  # an unknown kind or a missing extra comes first: it is a mistake in the file
    refused = start_problems(config)  # a mistyped path or a damaged database: said, never created or used
    for line in refused:
        logging.getLogger("bot").error("cannot start: %s", line)
    if refused:
        return EXIT_ERROR
    if stop_request.requested() is not None:
        logging.getLogger("bot").info("stop requested while starting; strategy-bot stopped")
        return EXIT_OK
    # SQLite: one daemon per database; a second is refused, naming the PID of the first.
    instance = single_instance(config.store.kind, config.store.url)
    bot = build(config)
    if args.clock_start is not None:
        from bot.rehearsal import rehearsing

        bot = rehearsing(bot, clock)  # receipt times on the simulated clock too
    if config.privacy.key_env is None:
        logging.getLogger("bot").warning(
            "privacy.key_env is not set: case details and stored emails are kept unsealed on disk"
        )
    try:
        daemon = Daemon(bot, clock)
        daemon.leadership = leadership_for(bot)  # a shared database: act only while holding the lease
        return daemon.run()
    finally:
        bot.close()
        if instance is not None:
            instance.release()


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the daemon on the configured inbox, calendar and sender")
    add_config(run)
    run.add_argument("--verbose", action="store_true", help="log debug detail too")
    run.add_argument(
        "--clock-start", type=instant, help="rehearsal: run on a simulated clock starting at this ISO 8601 time"
    )
    run.add_argument(
        "--clock-speed", type=float, default=1.0, help="rehearsal: simulated seconds per real second (default 1)"
    )
    run.set_defaults(func=cmd_run)
