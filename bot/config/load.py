"""Reading a config: the user's file over the packaged defaults, table by table, into a ``Config``."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.config import sections, servers
from bot.config.defaults import EXAMPLE_FILE, defaults, packaged_text
from bot.config.errors import ConfigError
from bot.config.schema import Config
from bot.config.table import Table


def parse_config(data: Mapping[str, Any], base: Path, source: str) -> Config:
    """Validate a parsed TOML document into a ``Config``; relative paths are taken from ``base``."""
    root = Table(data, defaults(), "", base)
    # A table is required only while it holds a required key; any other may be left out whole.
    bot = sections.bot(root.table("bot"))
    store = sections.store(root.table("store", required=False))
    inbox = sections.inbox(root.table("inbox", required=False))
    calendar = sections.calendar(root.table("calendar", required=False))
    sender = sections.sender(root.table("sender", required=False))
    people = sections.people(root.table("people"))
    conference = sections.conference(root.table("conference"))
    schedule = sections.schedule(root.table("schedule"))
    urgent = sections.urgent(root.table("urgent", required=False), people.mash_manager)
    timers = sections.timers(root.table("timers", required=False))
    trust = sections.trust(root.table("trust"))
    # A server table is read when the file has it or a kind above needs it; its defaults alone do not.
    kinds = {inbox.kind, calendar.kind, sender.kind}
    graph = servers.graph(root.table("graph"), bot.address) if root.has("graph") or "graph" in kinds else None
    ews = servers.ews(root.table("ews"), bot.address) if root.has("ews") or "ews" in kinds else None
    privacy = sections.privacy(root.table("privacy", required=False))
    metrics = sections.metrics(root.table("metrics", required=False))
    cases = sections.cases(root.table("cases", required=False))
    leader = sections.leader(root.table("leader", required=False))
    logging = sections.logging(root.table("logging", required=False))
    report = sections.report(root.table("report", required=False))
    board = sections.board(root.table("board", required=False))
    health = sections.health(root.table("health", required=False))
    templates_dir = sections.templates_dir(root)
    root.check_unknown()
    return Config(
        bot=bot,
        store=store,
        inbox=inbox,
        calendar=calendar,
        sender=sender,
        people=people,
        conference=conference,
        schedule=schedule,
        urgent=urgent,
        timers=timers,
        trust=trust,
        privacy=privacy,
        metrics=metrics,
        templates_dir=templates_dir,
        graph=graph,
        ews=ews,
        cases=cases,
        leader=leader,
        logging=logging,
        report=report,
        board=board,
        health=health,
        source=source,
    )


def load_config(path: Path | None, base: Path | None = None) -> Config:
    """Read ``path``, or the embedded default (the packaged ``example.toml``) when ``path`` is None.

    Relative paths in the embedded default are taken from ``base`` (default: the current
    folder); in a file, from the file's folder.
    """
    if path is None:
        text = packaged_text(EXAMPLE_FILE)
        source = "embedded default"
        base = base or Path.cwd()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; expected a TOML file") from None
        source = str(path)
        base = base or path.resolve().parent
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return parse_config(data, base, source)
