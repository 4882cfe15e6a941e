"""`strategy-bot init`: create the data folder, the Maildir folders and the database a configuration names.

The only command that creates them: `run` refuses a missing one, so that a mistyped path is
said out loud instead of becoming a new folder nobody delivers to.
"""

from __future__ import annotations

import argparse

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config, config_from


def cmd_init(args: argparse.Namespace) -> int:
    from bot.adapters.sql_store import SqlStore
    from bot.storage_faults import quick_check, sqlite_file
    from bot.storage_paths import create, init_hint, needed, problems

    config = config_from(args.config)
    there = [item for item in needed(config) if item.path.exists()]
    made, database = create(config)
    if database is not None:
        store = SqlStore(config.store.url)
        try:
            version = store.migrate()
        except BaseException:
            database.unlink()  # not left half made, to pass for a database the next time
            raise
        finally:
            store.dispose()
        made.insert(0, f"created the database {database} (mode 0600, schema version {version})")
    for line in made:
        print(line)
    for item in there:
        print(f"already there: {item.what} {item.path}")
    existing = sqlite_file(config.store)  # a PostgreSQL store leaves its unused SQLite path alone
    if existing is not None and database is None and existing.is_file():
        fault = quick_check(existing)
        if fault is not None:
            print(f"strategy-bot init: {fault}")
            return EXIT_ERROR
    left = problems(config)
    for line in left:
        print(f"strategy-bot init: {line}")
    if left:
        return EXIT_ERROR
    source = "" if config.source == "embedded default" else f" {config.source}"
    print(f"next: strategy-bot check-config{source}, then {init_hint(config).replace('init', 'run', 1)}")
    return EXIT_OK


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = sub.add_parser(
        "init",
        help="create the data folder, the Maildir folders and the database the config names (folders 0700, "
        "database 0600); the only command that creates them",
    )
    add_config(init)
    init.set_defaults(func=cmd_init)
