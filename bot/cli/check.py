"""`strategy-bot check-config` and `new-key`: is this deployment ready to run."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config
from bot.config import Config, ConfigError, load_config
from bot.errors import BotError


def offline_problems(config: Config) -> list[str]:
    """Everything `run` would fail on that needs no server: kinds and extras, templates, every secret
    variable, the sealing key, the folders and the database; every one found, not just the first."""
    from bot.mail.rendering import MailRenderer
    from bot.sealing import Sealer
    from bot.storage_paths import start_problems
    from bot.wiring import PURPOSES, check_kinds

    kinds = {config.inbox.kind, config.sender.kind, config.calendar.kind}
    imap, smtp, graph, ews = config.inbox.imap, config.sender.smtp, config.graph, config.ews
    check_kinds(config)  # an unknown kind or a missing extra: a mistake in the file, said alone (exit 2)
    checks: list[Callable[[], object]] = [lambda: MailRenderer(config.templates_dir).check(PURPOSES)]
    if config.inbox.kind == "imap" and imap is not None:
        checks.append(imap.password if imap.auth == "password" else imap.oauth_token)
    if config.sender.kind == "smtp" and smtp is not None:
        checks.append(smtp.password)
    if "graph" in kinds and graph is not None:
        checks.append(graph.client_secret)
        if graph.certificate_path is not None and not os.access(graph.certificate_path, os.R_OK):
            checks.append(lambda: _unreadable("graph.certificate_path", graph.certificate_path))
    if "ews" in kinds and ews is not None:
        checks.append(ews.password)
    if config.store.kind == "postgresql" and not os.environ.get(config.store.url_env, "").strip():
        checks.append(lambda: _unset("store.postgresql.url_env", config.store.url_env, "the database URL"))
    if config.privacy.key_env is not None:
        checks.append(lambda: Sealer.from_env(str(config.privacy.key_env)))
    problems: list[str] = []
    for check in checks:
        try:
            check()
        except (ConfigError, BotError) as exc:
            problems.append(str(exc))
    problems += start_problems(config)
    schema = _schema_problem(config)
    return problems + ([schema] if schema and not any(p.startswith("store.path") for p in problems) else [])


def _database_problems(config: Config) -> list[str]:
    """A database server (PostgreSQL) answers and lets the bot in: connect and ``SELECT 1``, nothing written."""
    from bot.os_words import network_words
    from bot.storage_faults import database_where
    from bot.store_opening import STORES

    try:
        store = STORES[config.store.kind](config)
    except (ConfigError, BotError) as exc:
        return [str(exc)]
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - the operator gets one plain line, never a traceback
        driver = getattr(exc, "orig", None) or exc
        first = (str(driver).strip().splitlines() or [type(driver).__name__])[0]
        words = network_words(driver) or first.rsplit(": ", 1)[-1].strip()
        return [f"cannot reach the database {database_where(store.url)}: {words[:1].lower()}{words[1:]}"]
    finally:
        store.dispose()
    return []


def _schema_problem(config: Config) -> str | None:
    """An SQLite database older or newer than this version, which `run` refuses; read-only, nothing written."""
    from sqlalchemy import create_engine

    from bot.adapters import sql_migrations as migrations
    from bot.storage_faults import sqlite_file

    path = sqlite_file(config.store)
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return None
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            migrations.check(conn)
    except ConfigError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - a damaged file is quick_check's to name, above
        return None
    finally:
        engine.dispose()
    return None


def _unset(key: str, name: str, what: str) -> None:
    raise ConfigError(f"{key}: environment variable {name!r} is not set; expected it to hold {what}")


def _unreadable(key: str, path: Path | None) -> None:
    raise ConfigError(f"{key}: permission denied on {path} (or it does not exist); expected a PEM file the bot reads")


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.adapters.sql_store import SqlStore
    from bot.ports import Checkable, Closeable
    from bot.wiring import CALENDARS, INBOXES, SENDERS

    source = getattr(args, "file", None) or getattr(args, "config", None)
    config = load_config(Path(source) if source else None)
    problems = offline_problems(config)
    if problems:
        print(f"{config.source}: {len(problems)} problem(s); `run` would fail on each:")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
    else:
        print(f"{config.source}: configuration is valid")
    print(f"  inbox:    {_inbox_where(config)}")
    print(f"  calendar: {config.calendar.kind} ({config.calendar.name})")
    print(f"  sender:   {_sender_where(config)}")
    print(f"  store:    {config.store.kind} ({_store_where(config)})")
    sealing = f"sealed with the key in ${config.privacy.key_env}" if config.privacy.key_env else "NOT sealed"
    print(f"  personal data at rest: {sealing}; purged {config.privacy.retention_days} days after a case ends")
    if args.offline:
        return EXIT_ERROR if problems else EXIT_OK
    # The adapters are built as the daemon builds them, on a scratch database: a check
    # changes nothing on disk and moves no mail.
    scratch = SqlStore("sqlite://")
    scratch.migrate()
    unset = _roles_without_secret(config)
    roles = [
        (role, make)
        for role, kind, make in (
            ("inbox", config.inbox.kind, lambda: INBOXES[config.inbox.kind](config, scratch)),
            ("sender", config.sender.kind, lambda: SENDERS[config.sender.kind](config)),
            ("calendar", config.calendar.kind, lambda: CALENDARS[config.calendar.kind](config, scratch)),
        )
        if kind not in LOCAL_KINDS
    ]
    server_database = config.store.kind == "postgresql" and os.environ.get(config.store.url_env, "").strip()
    if not roles and not server_database:
        return EXIT_ERROR if problems else EXIT_OK
    print("Connecting to the servers it names:")
    failed = bool(problems)
    said: list[str] = []
    if server_database:
        reached = _database_problems(config)
        failed = failed or bool(reached)
        for line in reached:
            print(f"  store:    PROBLEM: {line}")
        if not reached:
            print("  store:    ok")
    for role, make in roles:
        if role in unset:  # its secret is missing, listed above: nothing to log in with
            print(f"  {role + ':':<9} not checked (see above)")
            continue
        try:
            adapter = make()
            found = adapter.check() if isinstance(adapter, Checkable) else []
            if isinstance(adapter, Closeable):
                adapter.close()
        except (BotError, ConfigError) as exc:
            found = [str(exc)]
        except Exception as exc:  # noqa: BLE001 - the operator gets one plain line, never a traceback
            found = [f"the check failed unexpectedly: {type(exc).__name__}: {str(exc)[:200]}"]
        failed = failed or bool(found)
        if not found:
            print(f"  {role + ':':<9} ok")
        for problem in found:
            print(f"  {role + ':':<9} PROBLEM: {problem}")
        said.extend(found)
    if config.graph is not None and "graph" in (config.inbox.kind, config.sender.kind, config.calendar.kind):
        from bot.adapters.graph_client import GraphClient
        from bot.adapters.graph_privilege import scope_report

        if config.graph.client_secret_env is None or os.environ.get(config.graph.client_secret_env):
            proven, lines = scope_report(GraphClient(config.graph), said)
            print(*lines, sep="\n")
            failed = failed or not proven
    scratch.dispose()
    return EXIT_ERROR if failed else EXIT_OK


def _roles_without_secret(config: Config) -> set[str]:
    """The roles (inbox, sender, calendar) whose password, token or client secret variable is not set."""
    imap, smtp, graph, ews = config.inbox.imap, config.sender.smtp, config.graph, config.ews
    secrets: dict[str, list[Callable[[], object]]] = {"graph": [], "ews": []}
    if graph is not None:
        secrets["graph"].append(graph.client_secret)
    if ews is not None:
        secrets["ews"].append(ews.password)
    if imap is not None:
        secrets["imap"] = [imap.password if imap.auth == "password" else imap.oauth_token]
    if smtp is not None:
        secrets["smtp"] = [smtp.password]
    kinds = {"inbox": config.inbox.kind, "sender": config.sender.kind, "calendar": config.calendar.kind}
    unset = set()
    for role, kind in kinds.items():
        try:
            for secret in secrets.get(kind, []):
                secret()
        except ConfigError:
            unset.add(role)
    return unset


def _store_where(config: Config) -> str:
    if config.store.kind == "sqlite":
        return config.store.url
    return f"the URL in ${config.store.url_env}"


# Kinds kept on this machine: nothing to connect to, and building them would create folders.
LOCAL_KINDS = ("maildir", "local")


def cmd_new_key(args: argparse.Namespace) -> int:
    from bot.sealing import new_key

    print(new_key())
    return EXIT_OK


def _inbox_where(config: Config) -> str:
    imap = config.inbox.imap
    if config.inbox.kind == "imap" and imap is not None:
        return f"imap {imap.username} at {imap.host}:{imap.port} ({imap.security}), folder {config.inbox.folder}"
    if config.inbox.kind == "maildir":
        return f"maildir at {config.inbox.path}"
    return f"{config.inbox.kind}, folder {config.inbox.folder}"


def _sender_where(config: Config) -> str:
    smtp = config.sender.smtp
    if config.sender.kind == "smtp" and smtp is not None:
        return f"smtp at {smtp.host}:{smtp.port} ({smtp.security})"
    if config.sender.kind == "maildir":
        return f"maildir at {config.sender.path}"
    return config.sender.kind


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    key = sub.add_parser("new-key", help="print a new key for sealing personal data at rest (privacy.key_env)")
    key.set_defaults(func=cmd_new_key)

    check = sub.add_parser(
        "check-config", help="validate a config file, then log in to its servers and say in plain words what is wrong"
    )
    # The file as a positional argument is kept as an alias of --config, which every command takes.
    check.add_argument("file", nargs="?", help="the config file (the same as --config)")
    add_config(check)
    check.add_argument("--offline", action="store_true", help="validate the file only; connect to nothing")
    check.set_defaults(func=cmd_check_config)
