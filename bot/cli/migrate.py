"""`strategy-bot migrate`: bring the configured database's schema to this version's; or move SQLite onto PostgreSQL.

``run`` and the read-only commands create a new, empty database themselves, but refuse one made
by an older strategy-bot until this has been run (and one made by a newer one, always).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config, config_from


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.adapters import sql_migrations as migrations
    from bot.adapters.sql_copy import CopyRefused, copy_sqlite_into
    from bot.storage_faults import sqlite_file
    from bot.store_opening import open_store

    config = config_from(args.config)
    database = sqlite_file(config.store)
    if database is not None and not database.is_file():
        print(f"strategy-bot migrate: no database at {database}; strategy-bot init creates it", file=sys.stderr)
        return EXIT_ERROR
    store = open_store(config)
    try:
        if args.from_sqlite is not None:
            try:
                copied = copy_sqlite_into(Path(args.from_sqlite), store)
            except CopyRefused as refused:
                print(f"strategy-bot migrate: {refused}", file=sys.stderr)
                return EXIT_ERROR
            print(f"copied {args.from_sqlite} into PostgreSQL (schema revision {migrations.head()}); rows, checked:")
            for table, count in copied.items():
                print(f"  {table:<16}{count:>8}")
            return EXIT_OK
        with store.engine.connect() as conn:
            before = migrations.revision(conn).current
        after = store.migrate()
        if before == after:
            print(f"database schema already at revision {after}; nothing to do")
        else:
            print(f"database schema migrated from revision {before or '(new database)'} to {after}")
        return EXIT_OK
    finally:
        store.dispose()


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = sub.add_parser(
        "migrate",
        help="bring the database's schema up to this version (run it after each upgrade, before starting); "
        "--from-sqlite FILE copies an SQLite database into the configured, empty PostgreSQL",
    )
    add_config(migrate)
    migrate.add_argument(
        "--from-sqlite",
        metavar="FILE",
        help="copy every case, booking, event, timer, email, message and history row from this SQLite file "
        "into the configured PostgreSQL, which must be empty; the counts are checked before the commit",
    )
    migrate.set_defaults(func=cmd_migrate)
