"""`strategy-bot check-config` and `new-key`: is this deployment ready to run."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import EXIT_ERROR, EXIT_OK, add_config
from bot.config import Config, load_config
from bot.errors import BotError


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.adapters.sql_store import SqlStore
    from bot.mail.rendering import MailRenderer
    from bot.ports import Checkable, Closeable
    from bot.wiring import CALENDARS, INBOXES, PURPOSES, SENDERS, check_kinds

    source = args.file or args.config
    config = load_config(Path(source) if source else None)
    check_kinds(config)
    MailRenderer(config.templates_dir).check(PURPOSES)
    if config.sender.smtp is not None and config.sender.kind == "smtp":
        config.sender.smtp.password()
    print(f"{config.source}: configuration is valid")
    print(f"  inbox:    {_inbox_where(config)}")
    print(f"  calendar: {config.calendar.kind} ({config.calendar.name})")
    print(f"  sender:   {_sender_where(config)}")
    where = f"URL from ${config.store.url_env}" if config.store.kind == "postgresql" else config.store.url
    print(f"  store:    {config.store.kind} ({where})")
    sealing = f"sealed with the key in ${config.privacy.key_env}" if config.privacy.key_env else "NOT sealed"
    print(f"  personal data at rest: {sealing}; purged {config.privacy.retention_days} days after a case ends")
    if args.offline:
        return EXIT_OK
    # The adapters are built as the daemon builds them, on a scratch database: a check
    # changes nothing on disk and moves no mail.
    scratch = SqlStore("sqlite://")
    scratch.migrate()
    roles = [
        (role, make)
        for role, kind, make in (
            ("inbox", config.inbox.kind, lambda: INBOXES[config.inbox.kind](config, scratch)),
            ("sender", config.sender.kind, lambda: SENDERS[config.sender.kind](config)),
            ("calendar", config.calendar.kind, lambda: CALENDARS[config.calendar.kind](config, scratch)),
        )
        if kind not in LOCAL_KINDS
    ]
    if not roles:
        return EXIT_OK
    print("Connecting to the servers it names:")
    failed = False
    said: list[str] = []
    for role, make in roles:
        try:
            adapter = make()
            problems = adapter.check() if isinstance(adapter, Checkable) else []
            if isinstance(adapter, Closeable):
                adapter.close()
        except BotError as exc:
            problems = [str(exc)]
        except Exception as exc:  # noqa: BLE001 - the operator gets one plain line, never a traceback
            problems = [f"the check failed unexpectedly: {type(exc).__name__}: {str(exc)[:200]}"]
        failed = failed or bool(problems)
        if not problems:
            print(f"  {role + ':':<9} ok")
        for problem in problems:
            print(f"  {role + ':':<9} PROBLEM: {problem}")
        said.extend(problems)
    if config.graph is not None and "graph" in (config.inbox.kind, config.sender.kind, config.calendar.kind):
        from bot.adapters.graph_client import GraphClient
        from bot.adapters.graph_privilege import scope_report

        proven, lines = scope_report(GraphClient(config.graph), said)
        print(*lines, sep="\n")
        failed = failed or not proven
    scratch.dispose()
    return EXIT_ERROR if failed else EXIT_OK


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
